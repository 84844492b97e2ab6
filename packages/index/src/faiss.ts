/**
 * faiss-node 0.5.1 with the lookalike patch (../native/faiss-node-lookalike.patch), loaded lazily:
 * importing this package never fails; the first index operation throws FAISS_UNAVAILABLE when
 * the addon is missing or unpatched. Works on the main thread and in worker threads.
 */
import { createRequire } from 'node:module';
import { LookalikeError } from '@lookalike/core';

export interface NativeSearchResult {
  distances: Float32Array;
  /** FAISS positions, -1 where FAISS found fewer than k. */
  labels: Float64Array;
}

/** The faiss-node `Index` methods this package uses. */
export interface NativeIndex {
  ntotal(): number;
  getDimension(): number;
  toBuffer(): Buffer;
  // Added by the lookalike patch:
  setEfSearch(n: number): void;
  getEfSearch(): number;
  reconstructBatch(start: number, n: number): Float32Array;
  addFloat32(x: Float32Array): void;
  searchFloat32(x: Float32Array, k: number): NativeSearchResult;
  removeSwapLast(positions: number[]): number;
  exportHandle(): number;
  reserve(n: number): void;
  /**
   * Flat (and HNSW's flat storage): exact k nearest, the ids and distances of IndexFlatL2's
   * one-query search, through OpenBLAS over the stored vectors. Compact: the approximate top k.
   * `allowed`: bitmap of the positions that may be returned (bit p & 7 of byte p >> 3).
   * Padded with label -1 when fewer than k positions qualify.
   */
  searchScan(x: Float32Array, k: number, allowed?: Uint8Array): NativeSearchResult;
  /** One cblas_sgemv of the stored vectors by q, nothing else (the benchmark's bandwidth limit). */
  rawScan(q: Float32Array): number;
  kindName(): 'flat' | 'hnsw' | 'compact8' | 'compact16' | 'other';
  /** Compact only: false forces the scalar kernels; returns whether SIMD kernels are now used. */
  setScanSimd(on: boolean): boolean;
}

export interface FaissModule {
  setNumThreads(n: number): void;
  getNumThreads(): number;
  Index: {
    new (d: number): NativeIndex;
    fromFactory(d: number, description: string): NativeIndex;
    fromBuffer(buf: Buffer): NativeIndex;
    fromHandle(handle: number): NativeIndex;
    releaseHandle(handle: number): boolean;
    /** An empty compact index: 8-bit (per-vector scale) or fp16 codes. */
    newCompact(d: number, bits: 8 | 16): NativeIndex;
    prototype: Partial<NativeIndex>;
  };
}

const SETUP_HINT =
  'Run `npm run setup` (or `node scripts/setup-faiss.mjs`) to build faiss-node against the system FAISS.';
const PATCH_METHODS = [
  'setEfSearch',
  'reconstructBatch',
  'addFloat32',
  'searchFloat32',
  'removeSwapLast',
  'exportHandle',
  'reserve',
  'searchScan',
  'rawScan',
  'kindName',
] as const;
let faissCache: FaissModule | undefined;

export function loadFaiss(): FaissModule {
  if (faissCache) return faissCache;
  let mod: FaissModule;
  try {
    mod = createRequire(import.meta.url)('faiss-node') as FaissModule;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new LookalikeError('FAISS_UNAVAILABLE', `faiss-node could not be loaded (${why}). ${SETUP_HINT}`, { cause });
  }
  const proto = mod.Index?.prototype;
  if (
    !PATCH_METHODS.every((m) => typeof proto?.[m] === 'function') ||
    typeof mod.Index.fromHandle !== 'function' ||
    typeof mod.setNumThreads !== 'function'
  ) {
    throw new LookalikeError(
      'FAISS_UNAVAILABLE',
      `faiss-node is installed but lacks the current lookalike patch (${PATCH_METHODS.join(', ')}, fromHandle). ${SETUP_HINT}`,
    );
  }
  faissCache = mod;
  return mod;
}

/** Whether faiss-node (with the lookalike patch) can be loaded here; never throws. */
export function faissStatus(): { ok: true } | { ok: false; reason: string } {
  try {
    loadFaiss();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * OpenMP threads for the next FAISS call on this thread (OpenMP's setting is per calling thread,
 * so the main thread and each worker keep their own). A single query runs on one thread: FAISS's
 * HNSW search opens a parallel region even for one query, and on a busy machine waiting for a
 * second thread costs far more than the search itself.
 */
let currentThreads = 0;
export function useThreads(faiss: FaissModule, n: number): void {
  if (n !== currentThreads) {
    faiss.setNumThreads(n);
    currentThreads = n;
  }
}

/** True when the native index is an HNSW index (only those answer getEfSearch). */
export function isHnswNative(native: NativeIndex): boolean {
  return native.kindName() === 'hnsw';
}
