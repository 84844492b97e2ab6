import type { NamingScheme } from './layout.js';

/** Weights of one conv layer and the batch norm that follows it (Keras layouts, unfolded). */
export interface UnitWeights {
  /** Conv kernel in Keras layout (kh, kw, in, out), row-major. */
  kernel: Float32Array;
  /** Shape of `kernel` as stored (validated against the layout by the loader). */
  kernelShape: number[];
  bias: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/** All ResNet50 weights, keyed by the canonical unit id (`conv1`, `conv2_block1_0`, …). */
export interface ResNet50Weights {
  units: Map<string, UnitWeights>;
}

/** What the HDF5 loader returns. */
export interface LoadedKerasWeights {
  weights: ResNet50Weights;
  /** Layer names: current (`conv1_conv`) or legacy (`conv1`, `bn_conv1`). */
  scheme: NamingScheme;
  /** Weight-name style of the file: Keras 1 (`conv1_W:0`, flat datasets) or Keras 2 (`conv1_conv/kernel:0`). */
  kerasFormat: 1 | 2;
  parameters: number;
  /** Batch-norm epsilon of the model these names belong to: 1.001e-5 current, 1e-3 legacy. */
  batchNormEpsilon: number;
}
