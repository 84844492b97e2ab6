/**
 * Batch-norm folding: W' = W·γ/√(var+ε) per output channel, b' = (b − mean)·γ/√(var+ε) + β.
 * Computed in float64, stored as float32. ε depends on the weights' naming scheme
 * (`batchNormEpsilon`: 1.001e-5 current, 1e-3 legacy), so the caller passes it.
 */
import type { ConvUnitSpec } from '../weights/layout.js';
import type { UnitWeights } from '../weights/types.js';

export interface FoldedConv {
  /** Folded kernel in Keras/tfjs layout (kh, kw, in, out). */
  kernelHwio: Float32Array;
  /** Folded kernel in ONNX layout (out, in, kh, kw). */
  kernelOihw: Float32Array;
  bias: Float32Array;
}

/**
 * Folds one unit's batch norm into its conv.
 * @param epsilon the batch-norm epsilon of the model the weights belong to.
 */
export function foldUnit(spec: ConvUnitSpec, w: UnitWeights, epsilon: number): FoldedConv {
  if (!(epsilon > 0) || !Number.isFinite(epsilon))
    throw new RangeError(`foldUnit: epsilon must be > 0, got ${epsilon}`);
  const k = spec.kernel;
  const cin = spec.inChannels;
  const cout = spec.outChannels;
  const scale = new Float64Array(cout);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = (w.gamma[o] ?? 1) / Math.sqrt((w.movingVariance[o] ?? 1) + epsilon);
    scale[o] = s;
    bias[o] = ((w.bias[o] ?? 0) - (w.movingMean[o] ?? 0)) * s + (w.beta[o] ?? 0);
  }
  const src = w.kernel;
  const kernelHwio = new Float32Array(src.length);
  const kernelOihw = new Float32Array(src.length);
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      for (let i = 0; i < cin; i++) {
        const base = ((y * k + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) {
          const v = (src[base + o] ?? 0) * (scale[o] ?? 1);
          kernelHwio[base + o] = v;
          kernelOihw[((o * cin + i) * k + y) * k + x] = v;
        }
      }
    }
  }
  return { kernelHwio, kernelOihw, bias };
}
