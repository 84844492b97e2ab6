/**
 * The calibration arithmetic of the int8 model: the one-pass histogram's percentiles, the uint8
 * activation parameters (ReLU folded when the range starts at 0), per-channel symmetric weights.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activationParams, quantizeKernel, TensorHistogram } from '@lookalike/embedder';
import { rng } from '../helpers/rng.ts';

describe('int8 calibration', () => {
  it('GIVEN values arriving with growing ranges THEN percentiles match the sorted values', () => {
    const r = rng(1);
    const h = new TensorHistogram();
    const all: number[] = [];
    for (let batch = 0; batch < 8; batch++) {
      // Each batch widens the range, so the histogram doubles and merges bins on the way.
      const values = Float32Array.from({ length: 20_000 }, () => (r() - 0.3) * 2 ** batch);
      h.add(values);
      all.push(...values);
    }
    all.sort((a, b) => a - b);
    const span = (all.at(-1) as number) - (all[0] as number);
    const full = h.percentileRange(100);
    assert.ok(Math.abs(full.max - (all.at(-1) as number)) < 1e-6 * span);
    assert.ok(Math.abs(full.min - (all[0] as number)) < 1e-6 * span);
    const p = h.percentileRange(99);
    // 1% clipped, split between the tails in proportion to their sizes (70% positive here).
    const pos = all.filter((v) => v > 0).length;
    const neg = all.filter((v) => v < 0).length;
    const clip = all.length * 0.01;
    const hi = all[all.length - 1 - Math.round((clip * pos) / (pos + neg))] as number;
    const lo = all[Math.round((clip * neg) / (pos + neg))] as number;
    assert.ok(Math.abs(p.max - hi) < span / 1000, `max ${p.max} vs ${hi}`);
    assert.ok(Math.abs(p.min - lo) < span / 1000, `min ${p.min} vs ${lo}`);
    assert.equal(h.count, all.length);
  });

  it('GIVEN one huge outlier THEN the percentile range ignores it and min/max does not', () => {
    const values = Float32Array.from({ length: 100_000 }, (_, i) => (i % 1000) / 1000);
    values[17] = 1e6;
    const h = new TensorHistogram();
    h.add(values);
    assert.equal(h.extremes().max, 1e6);
    const p = h.percentileRange(99.99);
    assert.ok(p.max < 1.01 && p.max > 0.98, `percentile max ${p.max}`);
    assert.equal(p.min, 0);
  });

  it('GIVEN a range from 0 THEN the zero point is 0 (a ReLU folds in); a signed range keeps 0 exact', () => {
    assert.deepEqual(activationParams({ min: 0, max: 2.55 }), { scale: Math.fround(0.01), zeroPoint: 0 });
    const p = activationParams({ min: -1, max: 3 });
    assert.equal(p.zeroPoint, Math.round(1 / p.scale));
    assert.ok(Math.abs(p.scale * 255 - 4) < 1e-5);
    assert.deepEqual(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  });

  it('GIVEN a kernel THEN each output channel is scaled by its own max |w| to ±qmax', () => {
    const kernel = Float32Array.from([0.5, -1, 0.25, 0, 4, -2, 1, 0, 0, 0, 0, 0]);
    const q = quantizeKernel(kernel, 3, 64);
    assert.deepEqual(Array.from(q.scales), [Math.fround(1 / 64), Math.fround(4 / 64), 1]);
    assert.deepEqual(Array.from(q.values), [32, -64, 16, 0, 64, -32, 16, 0, 0, 0, 0, 0]);
  });
});
