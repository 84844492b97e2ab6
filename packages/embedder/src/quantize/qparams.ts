/**
 * Quantization parameters: activations per-tensor asymmetric uint8, conv weights per output
 * channel symmetric int8, biases int32 at scale(input) × scale(weight).
 */

/** Scale and zero point of a per-tensor uint8 activation: real = scale · (q − zeroPoint). */
export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/**
 * uint8 parameters covering [min, max] (widened to include 0, so zero is exact and a ReLU folds
 * into the quantization: with min = 0 the zero point is 0 and negatives clamp to it).
 */
export function activationParams(range: { min: number; max: number }): ActivationParams {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (hi - lo <= 0) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

export interface QuantizedWeights {
  /** int8 values, same layout as the float kernel (O, I, kh, kw). */
  values: Int8Array;
  /** One scale per output channel. */
  scales: Float32Array;
}

/**
 * Per-output-channel symmetric quantization of an OIHW kernel to integers in [−qmax, qmax]
 * (scale = max|w| / qmax). qmax 127 uses the full int8 range; 64 leaves one bit free so that the
 * u8×s8 pair sums of x86 AVX2 kernels (vpmaddubsw, int16) can never saturate: 2·255·64 < 32768.
 */
export function quantizeKernel(kernel: Float32Array, outChannels: number, qmax: number): QuantizedWeights {
  if (kernel.length % outChannels !== 0) throw new RangeError('kernel length is not a multiple of outChannels');
  const per = kernel.length / outChannels;
  const values = new Int8Array(kernel.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = o * per; i < (o + 1) * per; i++) m = Math.max(m, Math.abs(kernel[i] as number));
    const s = m === 0 ? 1 : Math.fround(m / qmax);
    scales[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) {
      values[i] = Math.max(-qmax, Math.min(qmax, Math.round((kernel[i] as number) / s)));
    }
  }
  return { values, scales };
}

/** Bias as int32 at scale inputScale · weightScale[o] (what QLinearConv adds to its int32 sums). */
export function quantizeBias(
  bias: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { values: Int32Array; scales: Float32Array } {
  const values = new Int32Array(bias.length);
  const scales = new Float32Array(bias.length);
  for (let o = 0; o < bias.length; o++) {
    const s = Math.fround(inputScale * (weightScales[o] as number));
    scales[o] = s;
    const q = Math.round((bias[o] as number) / s);
    values[o] = Math.max(-2147483647, Math.min(2147483647, q));
  }
  return { values, scales };
}
