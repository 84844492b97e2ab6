/**
 * Messages between the main thread and the index worker (worker.ts). Every request carries a
 * `seq`; the worker answers each with one reply. Large arrays travel as transferred buffers.
 */
import type { FileHeader } from './format.js';
import type { NativeSpec } from './native.js';

/** What `save` needs to write a file: the FAISS bytes and the per-position ids (NaN = tombstone). */
export interface SnapshotPayload {
  spec: NativeSpec;
  /** Live items (non-NaN ids). */
  live: number;
  ids: Float64Array;
  faiss: Uint8Array;
}

export type WorkerRequest =
  | { seq: number; type: 'save'; path: string; snapshot: SnapshotPayload }
  | { seq: number; type: 'load'; path: string; dimension: number | undefined; efSearch: number | undefined }
  | { seq: number; type: 'build-init'; spec: NativeSpec; threads: number }
  | { seq: number; type: 'build-add'; ids: Float64Array; vectors: Float32Array }
  | { seq: number; type: 'build-finish'; saveTo: string | undefined }
  | { seq: number; type: 'flat-save-begin'; job: number; dimension: number; count: number }
  | { seq: number; type: 'flat-save-chunk'; job: number; vectors: Float32Array }
  | { seq: number; type: 'flat-save-end'; job: number; path: string; snapshot: Omit<SnapshotPayload, 'faiss'> }
  | { seq: number; type: 'flat-save-abort'; job: number }
  | { seq: number; type: 'release'; handle: number };

export interface SaveResult {
  bytes: number;
}

export interface LoadResult {
  header: FileHeader;
  ids: Float64Array;
  handle: number;
  efSearch: number | undefined;
}

export interface BuildAddResult {
  count: number;
}

export interface BuildFinishResult {
  handle: number;
  /** Per FAISS position, the id added there. */
  ids: Float64Array;
  /** Bytes written when `saveTo` was given. */
  bytes: number | undefined;
}

export interface WorkerFailure {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export type WorkerReply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: WorkerFailure };
