/**
 * Saving and loading, main-thread side: the file work (hashing, writing, reading, FAISS
 * deserialization) runs in the index worker (worker.ts, file-io.ts); this side only moves
 * buffers and a native handle.
 */

import { loadFaiss, type NativeIndex } from './faiss.js';
import type { FileHeader } from './format.js';
import { ioWorker } from './worker-client.js';
import type { LoadResult, SaveResult, SnapshotPayload } from './worker-protocol.js';

/** A view that owns its whole ArrayBuffer can be transferred; anything else is copied first. */
function ownBuffer<T extends Uint8Array | Float32Array | Float64Array>(a: T): T {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && !(a.buffer instanceof SharedArrayBuffer)
    ? a
    : (a.slice() as T);
}

/** Writes a snapshot atomically to `path` (in the worker); returns the file size. */
export async function writeSnapshot(path: string, snapshot: SnapshotPayload): Promise<number> {
  const ids = ownBuffer(snapshot.ids);
  const faiss = ownBuffer(snapshot.faiss);
  const r = await ioWorker().call<SaveResult>({ type: 'save', path, snapshot: { ...snapshot, ids, faiss } }, [
    ids.buffer as ArrayBuffer,
    faiss.buffer as ArrayBuffer,
  ]);
  return r.bytes;
}

let flatJobs = 0;

/**
 * Writes a flat index whose vectors are read in chunks on this thread (`next`, one call per
 * chunk, each awaited by the worker before the next is read) instead of one `toBuffer`: the
 * worker rebuilds the flat index from them, serializes, hashes and writes it. `streamed` is called
 * once every chunk has been read (or the save failed before that).
 */
export async function writeStreamedFlat(
  path: string,
  snapshot: Omit<SnapshotPayload, 'faiss'>,
  next: () => Float32Array | undefined,
  streamed: () => void,
): Promise<number> {
  const worker = ioWorker();
  const job = ++flatJobs;
  let done = false;
  try {
    await worker.call({ type: 'flat-save-begin', job, dimension: snapshot.spec.dimension, count: snapshot.ids.length });
    for (let v = next(); v !== undefined; v = next()) {
      const chunk = ownBuffer(v);
      await worker.call({ type: 'flat-save-chunk', job, vectors: chunk }, [chunk.buffer as ArrayBuffer]);
    }
    done = true;
    streamed();
    const ids = ownBuffer(snapshot.ids);
    const r = await worker.call<SaveResult>({ type: 'flat-save-end', job, path, snapshot: { ...snapshot, ids } }, [
      ids.buffer as ArrayBuffer,
    ]);
    return r.bytes;
  } catch (err) {
    if (!done) streamed();
    worker.call({ type: 'flat-save-abort', job }).catch(() => {});
    throw err;
  }
}

export interface ReadIndex {
  header: FileHeader;
  native: NativeIndex;
  /** Per FAISS position: the id, or NaN for a tombstone. */
  ids: Float64Array;
  efSearch: number | undefined;
}

/** Reads, checks and deserializes an index file in the worker; FAISS_UNAVAILABLE is thrown here first. */
export async function readIndex(
  path: string,
  dimension: number | undefined,
  efSearch: number | undefined,
): Promise<ReadIndex> {
  const faiss = loadFaiss();
  const r = await ioWorker().call<LoadResult>({ type: 'load', path, dimension, efSearch });
  return { header: r.header, native: faiss.Index.fromHandle(r.handle), ids: r.ids, efSearch: r.efSearch };
}
