/**
 * What an inference runtime must offer the embedder: run one caffe-preprocessed NHWC batch,
 * return one L2-normalised 2048-d row per image.
 */

import { EMBEDDING_DIMENSION } from './weights/layout.js';

export const EMBEDDING_DIM = EMBEDDING_DIMENSION;

export type RuntimeName = 'onnx' | 'tfjs';

export interface InferenceRuntime {
  readonly name: RuntimeName;
  /** Human detail, e.g. "onnxruntime-node 1.30.0 (cpu, 2 threads)". */
  readonly detail: string;
  /**
   * Runs `n` images laid out as float32 [n,224,224,3] in `batch` (length ≥ n·150528).
   * Resolves to n·2048 floats, each row L2-normalised.
   */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * L2-normalises each `dim`-wide row of `data` in place (norm accumulated in float64).
 * An all-zero row stays zero.
 */
export function l2NormalizeRows(data: Float32Array, dim: number = EMBEDDING_DIM): Float32Array {
  for (let off = 0; off < data.length; off += dim) {
    let sum = 0;
    for (let i = off; i < off + dim; i++) {
      const v = data[i] ?? 0;
      sum += v * v;
    }
    if (sum > 0) {
      const inv = 1 / Math.sqrt(sum);
      for (let i = off; i < off + dim; i++) data[i] = (data[i] ?? 0) * inv;
    }
  }
  return data;
}
