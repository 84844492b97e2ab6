/**
 * Untrained ResNet50 weights from a seeded PRNG: He-normal kernels, small biases and tame
 * batch-norm statistics, so activations stay finite through all 16 residual blocks.
 */
import { CONV_UNITS, kernelShape } from './layout.js';
import type { ResNet50Weights, UnitWeights } from './types.js';

/** Default seed for `models init --untrained`. */
export const DEFAULT_UNTRAINED_SEED = 42;

/** A small, fast, seeded PRNG (sfc32) with a Box-Muller normal generator. */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 20; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    let a = this.#a;
    let b = this.#b;
    let c = this.#c;
    let d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.#a = a;
    this.#b = b;
    this.#c = c;
    this.#d = d;
    return (t >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal. */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function fill(n: number, f: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

export interface UntrainedWeightsOptions {
  /**
   * Fraction of each batch norm's channels whose moving variance is drawn log-uniformly from
   * [1e-4, 1e-2] instead of [0.8, 1.2], with γ scaled by √var so activations stay tame. Such
   * channels make the batch-norm epsilon (1.001e-5 vs 1e-3) visible in the output, as it is with
   * trained weights; with variances near 1 the two epsilons give nearly the same vectors.
   * @defaultValue 0 (the product's untrained weights)
   */
  smallVarianceFraction?: number;
}

/** He-initialised weights for every conv+BN unit, deterministic for a given seed (and options). */
export function createUntrainedWeights(
  seed: number = DEFAULT_UNTRAINED_SEED,
  options: UntrainedWeightsOptions = {},
): ResNet50Weights {
  const fraction = options.smallVarianceFraction ?? 0;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`smallVarianceFraction must be in [0, 1], got ${fraction}`);
  }
  const rng = new SeededRandom(seed);
  const units = new Map<string, UnitWeights>();
  for (const u of CONV_UNITS) {
    const shape = kernelShape(u);
    const fanIn = u.kernel * u.kernel * u.inChannels;
    const std = Math.sqrt(2 / fanIn);
    const c = u.outChannels;
    const unit: UnitWeights = {
      kernel: fill(shape[0] * shape[1] * shape[2] * shape[3], () => std * rng.normal()),
      kernelShape: shape,
      bias: fill(c, () => 0.01 * rng.normal()),
      gamma: fill(c, () => rng.uniform(0.8, 1.2)),
      beta: fill(c, () => 0.05 * rng.normal()),
      movingMean: fill(c, () => 0.05 * rng.normal()),
      movingVariance: fill(c, () => rng.uniform(0.8, 1.2)),
    };
    if (fraction > 0) {
      // Drawn only when asked for, so the default weights of a seed stay what they were.
      for (let o = 0; o < c; o++) {
        if (rng.next() >= fraction) continue;
        const variance = 10 ** rng.uniform(-4, -2);
        unit.movingVariance[o] = variance;
        unit.gamma[o] = (unit.gamma[o] ?? 1) * Math.sqrt(variance);
      }
    }
    units.set(u.id, unit);
  }
  return { units };
}
