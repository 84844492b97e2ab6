/**
 * Finds the catalog's image files (recursively) and gives each a stable item id.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, sep } from 'node:path';

/** File extensions the catalog picks up (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.avif',
  '.heic',
  '.heif',
  '.tif',
  '.tiff',
];

export interface ScannedFile {
  /** Item id: the file stem, or the relative path without extension when stems collide. */
  id: string;
  /** The file stem (name without extension), used to look up labels. */
  stem: string;
  /** Path relative to the images folder, with `/` separators. */
  relPath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

export interface ScanResult {
  files: ScannedFile[];
  /** Stems found in more than one file (those files use their relative path as id). */
  collisions: string[];
  /** Entries that could not be listed or stat'ed (relative paths). */
  unreadable: string[];
}

/**
 * Lists the image files under `dir` (hidden files and folders are skipped; symlinks followed).
 * Ids are file stems; when two files share a stem, both use their relative path without
 * extension instead (e.g. `men/1234` and `women/1234`), and the stem is reported in
 * `collisions`.
 */
export async function scanImages(dir: string): Promise<ScanResult> {
  const found: { relPath: string; absPath: string }[] = [];
  const unreadable: string[] = [];
  const walk = async (abs: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (abs === dir) throw err;
      unreadable.push(toRel(dir, abs));
      return;
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(abs, e.name);
      if (e.isDirectory()) subdirs.push(p);
      else if (e.isFile() || e.isSymbolicLink()) {
        if (IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
          found.push({ relPath: toRel(dir, p), absPath: p });
        else if (e.isSymbolicLink()) {
          // A link to a folder is walked; a link to a non-image file is ignored.
          const s = await stat(p).catch(() => undefined);
          if (s?.isDirectory()) subdirs.push(p);
        }
      }
    }
    for (const d of subdirs) await walk(d);
  };
  await walk(dir);

  const files: ScannedFile[] = [];
  const CONCURRENCY = 64;
  let next = 0;
  const statWorker = async () => {
    while (next < found.length) {
      const f = found[next++]!;
      try {
        const s = await stat(f.absPath);
        if (!s.isFile()) continue;
        const name = basename(f.relPath);
        const stem = name.slice(0, name.length - extname(name).length);
        files.push({ id: stem, stem, relPath: f.relPath, absPath: f.absPath, size: s.size, mtimeMs: s.mtimeMs });
      } catch {
        unreadable.push(f.relPath);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, statWorker));
  files.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));

  const byStem = new Map<string, number>();
  for (const f of files) byStem.set(f.stem, (byStem.get(f.stem) ?? 0) + 1);
  const collisions: string[] = [];
  for (const [stem, n] of byStem) if (n > 1) collisions.push(stem);
  if (collisions.length > 0) {
    const clash = new Set(collisions);
    for (const f of files) {
      if (clash.has(f.stem)) f.id = f.relPath.slice(0, f.relPath.length - extname(f.relPath).length);
    }
  }
  return { files, collisions: collisions.sort(), unreadable };
}

function toRel(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}
