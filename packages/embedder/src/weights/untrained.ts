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

/** He-initialised weights for every conv+BN unit, deterministic for a given seed. */
export function createUntrainedWeights(seed: number = DEFAULT_UNTRAINED_SEED): ResNet50Weights {
  const rng = new SeededRandom(seed);
  const units = new Map<string, UnitWeights>();
  for (const u of CONV_UNITS) {
    const shape = kernelShape(u);
    const fanIn = u.kernel * u.kernel * u.inChannels;
    const std = Math.sqrt(2 / fanIn);
    const c = u.outChannels;
    units.set(u.id, {
      kernel: fill(shape[0] * shape[1] * shape[2] * shape[3], () => std * rng.normal()),
      kernelShape: shape,
      bias: fill(c, () => 0.01 * rng.normal()),
      gamma: fill(c, () => rng.uniform(0.8, 1.2)),
      beta: fill(c, () => 0.05 * rng.normal()),
      movingMean: fill(c, () => 0.05 * rng.normal()),
      movingVariance: fill(c, () => rng.uniform(0.8, 1.2)),
    });
  }
  return { units };
}
