/**
 * What an inference runtime must offer the embedder: run one caffe-preprocessed NHWC batch,
 * return one L2-normalised 2048-d vector per image, each on a buffer of its own.
 */

import { EMBEDDING_DIMENSION } from './weights/layout.js';

export const EMBEDDING_DIM = EMBEDDING_DIMENSION;

/** Model input side. */
export const INPUT_SIZE = 224;
/** Floats in one preprocessed image (224·224·3, NHWC). */
export const INPUT_LENGTH = INPUT_SIZE * INPUT_SIZE * 3;

export type RuntimeName = 'onnx' | 'tfjs';

export interface InferenceRuntime {
  readonly name: RuntimeName;
  /** Human detail, e.g. "onnxruntime-node 1.30.0 (cpu, 2 threads)". */
  readonly detail: string;
  /**
   * Runs `n` images laid out as float32 [n,224,224,3] in `batch` (length ≥ n·150528).
   * Resolves to n vectors of 2048 floats, each L2-normalised and on its own 8 KB buffer (so
   * each can be transferred to another thread as it is).
   */
  run(batch: Float32Array, n: number): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/**
 * Copies each of the `n` `dim`-wide rows of `data` (a runtime's output, which it may reuse or
 * free) into a buffer of its own, L2-normalised on the way (norm accumulated in float64). One
 * copy per vector. An all-zero row stays zero.
 */
export function normalizedRows(data: Float32Array, n: number, dim: number = EMBEDDING_DIM): Float32Array[] {
  if (data.length < n * dim) throw new RangeError(`expected ${n}×${dim} floats, got ${data.length}`);
  const rows: Float32Array[] = [];
  for (let r = 0; r < n; r++) {
    const off = r * dim;
    let sum = 0;
    for (let i = off; i < off + dim; i++) {
      const v = data[i] ?? 0;
      sum += v * v;
    }
    const row = new Float32Array(dim);
    if (sum > 0) {
      const inv = 1 / Math.sqrt(sum);
      for (let i = 0; i < dim; i++) row[i] = (data[off + i] ?? 0) * inv;
    } else {
      row.set(data.subarray(off, off + dim));
    }
    rows.push(row);
  }
  return rows;
}
