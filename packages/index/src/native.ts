/**
 * Making native FAISS indexes and feeding them, the same way on the main thread and in workers.
 */
import { chunkVectors } from './checks.js';
import { type FaissModule, type NativeIndex, useThreads } from './faiss.js';
import type { IndexKind } from './types.js';

export interface NativeSpec {
  kind: IndexKind;
  dimension: number;
  /** HNSW only. */
  M: number | undefined;
  /** HNSW only. */
  efSearch: number | undefined;
}

/** What the native index's kindName() says for each kind. */
export const NATIVE_KIND: Record<IndexKind, string> = { flat: 'flat', hnsw: 'hnsw', 'flat-sq8': 'compact8' };

export function newNative(faiss: FaissModule, spec: NativeSpec): NativeIndex {
  if (spec.kind === 'flat') return new faiss.Index(spec.dimension);
  if (spec.kind === 'flat-sq8') return faiss.Index.newCompact(spec.dimension, 8);
  const native = faiss.Index.fromFactory(spec.dimension, `HNSW${spec.M},Flat`);
  native.setEfSearch(spec.efSearch as number);
  return native;
}

/**
 * Adds n = packed.length / d vectors with `threads` OpenMP threads, one native call per chunk
 * (HNSW inserts a call's vectors by level, so the chunking is part of what decides the graph:
 * the main thread and the build worker chunk the same way).
 */
export function addPacked(
  faiss: FaissModule,
  native: NativeIndex,
  packed: Float32Array,
  dimension: number,
  threads: number,
): void {
  useThreads(faiss, threads);
  const per = chunkVectors(dimension) * dimension;
  if (packed.length <= per) {
    native.addFloat32(packed);
    return;
  }
  for (let from = 0; from < packed.length; from += per) {
    native.addFloat32(packed.subarray(from, Math.min(packed.length, from + per)));
  }
}
