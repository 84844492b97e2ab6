/**
 * A one-pass histogram of a tensor's values for percentile calibration, binned by the float32
 * bit pattern: sign, exponent and the top 8 mantissa bits (`bits >>> 15`). The bins are thus
 * log-spaced, 256 per octave (≤ 0.4% relative width) over the whole float range, so one huge
 * outlier costs no resolution for the bulk of the values, and no first pass for the maximum is
 * needed.
 */

const BINS_PER_SIGN = 1 << 16;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest magnitude in bin `i` (of one sign). */
function binFloor(i: number): number {
  u32[0] = (i << 15) >>> 0;
  return f32[0] as number;
}

class SignedHalf {
  count = 0;
  max = 0;
  constructor(
    readonly counts: Float64Array,
    readonly offset: number,
  ) {}

  /** The magnitude below which `rank` of this sign's values lie (linear within a bin). */
  quantile(rank: number): number {
    let seen = 0;
    for (let i = 0; i < BINS_PER_SIGN; i++) {
      const c = this.counts[this.offset + i] ?? 0;
      if (c > 0 && seen + c >= rank) {
        const lo = binFloor(i);
        const hi = binFloor(i + 1);
        return Math.min(this.max, lo + (hi - lo) * ((rank - seen) / c));
      }
      seen += c;
    }
    return this.max;
  }
}

/** Histogram of one tensor over the whole calibration set. */
export class TensorHistogram {
  readonly #counts = new Float64Array(2 * BINS_PER_SIGN);
  readonly #pos = new SignedHalf(this.#counts, 0);
  readonly #neg = new SignedHalf(this.#counts, BINS_PER_SIGN);
  #zeros = 0;
  #total = 0;

  get count(): number {
    return this.#total;
  }

  add(values: Float32Array): void {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const counts = this.#counts;
    let hi = this.#pos.max;
    let lo = this.#neg.max;
    let zeros = 0;
    let pos = 0;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i] as number;
      const magnitude = b & 0x7fffffff;
      if (magnitude === 0) {
        zeros++;
        continue;
      }
      if (magnitude >= 0x7f800000) throw new RangeError('calibration tensor holds a non-finite value');
      counts[b >>> 15]! += 1;
      const v = values[i] as number;
      if (b === magnitude) {
        pos++;
        if (v > hi) hi = v;
      } else if (-v > lo) lo = -v;
    }
    this.#pos.max = hi;
    this.#neg.max = lo;
    this.#pos.count += pos;
    this.#neg.count += values.length - zeros - pos;
    this.#zeros += zeros;
    this.#total += values.length;
  }

  /** The largest and smallest values seen. */
  extremes(): { min: number; max: number } {
    return { min: this.#neg.max === 0 ? 0 : -this.#neg.max, max: this.#pos.max };
  }

  /**
   * The range holding all but the `(100 − percentile)`% most extreme values, that share split
   * between the two tails in proportion to their sizes; always includes 0.
   */
  percentileRange(percentile: number): { min: number; max: number } {
    if (!(percentile > 0 && percentile <= 100))
      throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
    if (this.#total === 0) return { min: 0, max: 0 };
    const clipped = this.#total * (1 - percentile / 100);
    const negCount = this.#neg.count;
    const posCount = this.#pos.count;
    const tails = negCount + posCount;
    const clipNeg = tails === 0 ? 0 : (clipped * negCount) / tails;
    const clipPos = clipped - clipNeg;
    const min = negCount === 0 ? 0 : -this.#neg.quantile(Math.max(0, negCount - clipNeg));
    return {
      min: min === 0 ? 0 : min,
      max: posCount === 0 ? 0 : this.#pos.quantile(Math.max(0, posCount - clipPos)),
    };
  }
}
