/**
 * The calibration set: N images spread evenly over a folder's image files (sorted by path, so
 * the same folder gives the same set).
 */
import { readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { LookalikeError } from '@lookalike/core';

const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.avif',
  '.tif',
  '.tiff',
  '.heic',
  '.heif',
]);

/** Every image file under `dir` (recursive, by extension), as paths relative to it, sorted. */
export async function listImageFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (cause) {
    throw new LookalikeError('CATALOG_NOT_FOUND', `Cannot read the calibration folder ${dir}`, {
      cause,
      details: { dir },
      userMessage: `The calibration folder ${dir} cannot be read.`,
    });
  }
  return entries
    .filter((p) => IMAGE_EXTENSIONS.has(extname(p).toLowerCase()) && !p.split(/[\\/]/).some((s) => s.startsWith('.')))
    .map((p) => p.replaceAll('\\', '/'))
    .sort();
}

/**
 * All of `files` reordered so that the first `n` are spread evenly over the sorted list and the
 * rest follow in order (stand-ins for unreadable ones).
 */
export function spreadOrder(files: readonly string[], n: number): string[] {
  if (files.length <= n) return [...files];
  const picked = new Set<number>();
  for (let i = 0; i < n; i++) picked.add(Math.floor(((i + 0.5) * files.length) / n));
  const first = [...picked].map((i) => files[i] as string);
  return [...first, ...files.filter((_, i) => !picked.has(i))];
}

export function relativeTo(dir: string, path: string): string {
  return relative(dir, join(dir, path)).replaceAll('\\', '/');
}
