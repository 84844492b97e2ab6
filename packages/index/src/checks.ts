/**
 * Defaults, input checks and the Float32Array packing shared by the index, the builder and the
 * worker.
 */
import { availableParallelism } from 'node:os';
import { LookalikeError } from '@lookalike/core';
import type { IndexKind } from './types.js';

export const DEFAULT_DIMENSION = 2048;
export const DEFAULT_EF_SEARCH = 96;
export const DEFAULT_M = 32;
export const DEFAULT_COMPACT_AT = 0.1;
/** Vectors per native add/search call and per chunk sent to a worker (32 MB at 2048-d). */
export const CHUNK_BYTES = 32 << 20;

export function chunkVectors(dimension: number): number {
  return Math.max(1, Math.floor(CHUNK_BYTES / (4 * dimension)));
}

/**
 * Room to reserve for an index of n vectors that is about to be handed to the main thread, so
 * that its next adds do not reallocate (copy) the whole storage there. Reserved memory that is
 * never written is never touched, so it costs address space, not RSS.
 */
export function headroom(n: number): number {
  return Math.ceil(n * 1.5) + 4096;
}

/** Worker threads leave one core to the main thread. */
export function defaultWorkerThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function internal(message: string, details?: Record<string, unknown>): LookalikeError {
  return new LookalikeError('INTERNAL', message, details ? { details } : {});
}

export function checkPositiveInt(name: string, v: number, max = 1 << 30): void {
  if (!Number.isInteger(v) || v < 1 || v > max) throw internal(`${name} must be an integer in 1..${max}, got ${v}`);
}

export function checkKind(kind: unknown): IndexKind {
  if (kind !== 'flat' && kind !== 'hnsw' && kind !== 'flat-sq8') throw internal(`unknown index kind ${String(kind)}`);
  return kind;
}

export function checkCompactAt(v: number | false): number | false {
  if (v !== false && !(typeof v === 'number' && v > 0 && v <= 1))
    throw internal(`compactAt must be a fraction in (0, 1] or false, got ${String(v)}`);
  return v;
}

export function checkLength(v: Float32Array | undefined, dimension: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw internal(`${what} must be a Float32Array`);
  if (v.length !== dimension)
    throw internal(`${what} has length ${v.length}, expected ${dimension}`, { dimension, got: v.length });
  return v;
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(v: Float32Array, from = 0, to = v.length): number {
  for (let j = from; j < to; j++) {
    if (!Number.isFinite(v[j] as number)) return j;
  }
  return -1;
}

export function checkVector(v: Float32Array | undefined, dimension: number, what: string): Float32Array {
  const x = checkLength(v, dimension, what);
  const bad = firstNonFinite(x);
  if (bad >= 0) throw internal(`${what} has a non-finite value at ${bad}`);
  return x;
}

/**
 * Checks a batch of new ids: safe integers, unique in the batch, and not `taken`.
 * Returns nothing; throws INTERNAL naming the first bad id.
 */
export function checkNewIds(ids: readonly number[], taken: (id: number) => boolean, what: string): void {
  const seen = new Set<number>();
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) throw internal(`${what}: id ${id} is not a safe integer`);
    if (taken(id) || seen.has(id)) throw internal(`${what}: id ${id} is already in the index`, { id });
    seen.add(id);
  }
}

/** Copies vectors [from, to) into one fresh Float32Array (FAISS's native layout). */
export function pack(vectors: readonly Float32Array[], from: number, to: number, dimension: number): Float32Array {
  const out = new Float32Array((to - from) * dimension);
  for (let i = from; i < to; i++) out.set(vectors[i] as Float32Array, (i - from) * dimension);
  return out;
}
