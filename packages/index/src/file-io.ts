/**
 * Writing and reading index files. Runs in the index worker: hashing a 360 MB file and writing
 * it must not hold up the main thread's event loop.
 *
 * A save writes `<path>.tmp-<pid>-<random>`, fsyncs it, renames it over `path` and fsyncs the
 * directory, so a crash at any point leaves either the old or the new file at `path`. Temp files
 * left by a process that died mid-save are never read (`path` is), and the next save in the same
 * directory removes them.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LookalikeError } from '@lookalike/core';
import { encodeLead, type FileHeader, FORMAT_VERSION, sha256 } from './format.js';
import type { SnapshotPayload } from './worker-protocol.js';

const TMP_MARK = '.tmp-';

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
  const tmp = `${path}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
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

/** Removes `<path>.tmp-<pid>-*` files whose writing process is gone. Best effort. */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const prefix = `${basename(path)}${TMP_MARK}`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    try {
      await rm(join(dirname(path), name), { force: true });
      removed.push(name);
    } catch {
      // another process may be cleaning up too
    }
  }
  return removed;
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
