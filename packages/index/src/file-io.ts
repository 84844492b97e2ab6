/**
 * Writing and reading index files. Runs in the index worker: hashing a 360 MB file and writing
 * it must not hold up the main thread's event loop.
 *
 * A save writes `<path>.tmp-<pid>-<random>`, fsyncs it, renames it over `path` and fsyncs the
 * directory, so a crash at any point leaves either the old or the new file at `path`. Temp files
 * left by a process that died mid-save are never read (`path` is); the next save of the same path
 * removes them, and {@link removeStaleTempFiles} clears a whole directory of them (the catalog
 * calls it when it opens its index).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LookalikeError } from '@lookalike/core';
import { encodeLead, type FileHeader, FORMAT_VERSION, sha256 } from './format.js';
import type { SnapshotPayload } from './worker-protocol.js';

const TMP_MARK = '.tmp-';

/**
 * Where to write `path` before renaming it over `path`: `<path>.tmp-<pid>-<random>`, the one
 * temp-file form that {@link removeStaleTempFiles} recognises (with its writer's pid).
 */
export function tempPathFor(path: string): string {
  return `${path}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
}

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export async function writeIndexFile(path: string, s: SnapshotPayload): Promise<number> {
  const ids = asBytes(s.ids);
  const header: FileHeader = {
    format: FORMAT_VERSION,
    kind: s.spec.kind,
    dimension: s.spec.dimension,
    count: s.ids.length,
    live: s.live,
    M: s.spec.M ?? null,
    efSearch: s.spec.efSearch ?? null,
    idsBytes: ids.length,
    faissBytes: s.faiss.length,
    idsSha256: sha256(ids),
    faissSha256: sha256(s.faiss),
  };
  const lead = encodeLead(header);
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      for (const part of [lead, ids, s.faiss]) {
        let off = 0;
        while (off < part.length) off += (await fh.write(part, off, part.length - off)).bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new LookalikeError('INTERNAL', `could not save index to ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  await syncDir(dirname(path));
  await removeStaleTemps(path);
  return lead.length + ids.length + s.faiss.length;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort: some filesystems refuse fsync on directories
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Clock slack when comparing a file's mtime with a process's start time (/proc gives 1 s boot-time granularity). */
const START_SLACK_MS = 2000;

/** Linux: when the process now running as `pid` started (ms since the epoch), from /proc; else undefined. */
function startedAtMs(pid: number): number | undefined {
  if (pid === process.pid) return Date.now() - process.uptime() * 1000;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) counts from the field after the command name.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    // USER_HZ is 100 on every Linux architecture Node runs on.
    return Number.isFinite(ticks) && Number.isFinite(btime) ? (btime + ticks / 100) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid that wrote a temp file named `name`: `<file>.tmp-<pid>-<hex>` (index files, sidecars),
 * or `<file>.json.<pid>.tmp` (sidecars of older versions); undefined for any other name.
 */
export function tempFileWriter(name: string): number | undefined {
  const m = /\.tmp-(\d{1,10})-[0-9a-f]+$/.exec(name) ?? /\.json\.(\d{1,10})\.tmp$/.exec(name);
  const pid = Number(m?.[1]);
  return m !== null && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether a temp file written by `pid` (last modified at `mtimeMs`) is left over: its writer is
 * gone, or the process now holding that pid (this one included, as after a container restart)
 * started after the file was last written.
 */
function isStale(pid: number, mtimeMs: number): boolean {
  if (pid !== process.pid && !alive(pid)) return true;
  const started = startedAtMs(pid);
  return started !== undefined && mtimeMs < started - START_SLACK_MS;
}

async function removeStale(dir: string, names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempFileWriter(name);
    if (pid === undefined) continue;
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isFile() || !isStale(pid, st.mtimeMs)) continue;
      await rm(path, { force: true });
      removed.push(name);
    } catch {
      // gone already (another process cleaning up, or its writer renamed it)
    }
  }
  return removed;
}

/** Removes `<path>.tmp-<pid>-*` files left over by dead writers (see {@link removeStaleTempFiles}). Best effort. */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const prefix = `${basename(path)}${TMP_MARK}`;
  try {
    const names = await readdir(dirname(path));
    return await removeStale(
      dirname(path),
      names.filter((n) => n.startsWith(prefix)),
    );
  } catch {
    return [];
  }
}

/**
 * Removes the temp files in `dir` (not below it) that a crashed save left: names of the forms
 * {@link tempFileWriter} knows whose writer is gone, or whose pid now belongs to a process that
 * started after the file was last written. Temp files of a live writer stay. Best effort: resolves
 * to the names removed, never throws.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  try {
    return await removeStale(dir, await readdir(dir));
  } catch {
    return [];
  }
}

export async function readIndexFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new LookalikeError('INTERNAL', `could not read index file ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
}
