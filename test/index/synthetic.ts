/**
 * Deterministic synthetic vectors for index tests and the index benchmark.
 *
 * Random points in 2048-d are all nearly equidistant, which makes nearest-neighbour search
 * meaningless (and approximate search look artificially bad). Image embeddings instead sit on a
 * clustered, multi-scale structure; we mimic that with a two-level Gaussian mixture: `centres`
 * top-level centres (unit Gaussian directions), each with `subPerCentre` sub-centres at a smaller
 * offset, and each point a sub-centre plus isotropic noise, L2-normalised like the embedder's
 * output. Queries are fresh draws from the same mixture (held out, never members).
 */

import { rng } from '../helpers/rng.js';

export function gaussian(rand: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * inv;
  return v;
}

/** Independent unit vectors (the hard, structure-free case). */
export function randomUnitVectors(n: number, d: number, seed: number): Float32Array[] {
  const g = gaussian(rng(seed));
  return Array.from({ length: n }, () => {
    const v = new Float32Array(d);
    for (let j = 0; j < d; j++) v[j] = g();
    return normalise(v);
  });
}

export interface MixtureOptions {
  dimension: number;
  centres: number;
  subPerCentre: number;
  /** Norm of a sub-centre's offset from its centre (centres have norm 1). */
  subSpread: number;
  /** Norm of a point's noise around its sub-centre. */
  noise: number;
  seed: number;
}

export const DEFAULT_MIXTURE: Omit<MixtureOptions, 'dimension' | 'seed'> = {
  centres: 300,
  subPerCentre: 8,
  subSpread: 0.6,
  noise: 0.45,
};

/** A sampler over a two-level Gaussian mixture; call `draw()` for one normalised point. */
export function mixture(opts: MixtureOptions): { draw: () => Float32Array } {
  const { dimension: d } = opts;
  const g = gaussian(rng(opts.seed));
  const randn = (scale: number) => {
    const v = new Float32Array(d);
    const s = scale / Math.sqrt(d);
    for (let j = 0; j < d; j++) v[j] = g() * s;
    return v;
  };
  const subs: Float32Array[] = [];
  for (let c = 0; c < opts.centres; c++) {
    const centre = randn(1);
    for (let s = 0; s < opts.subPerCentre; s++) {
      const off = randn(opts.subSpread);
      for (let j = 0; j < d; j++) off[j] = (off[j] as number) + (centre[j] as number);
      subs.push(off);
    }
  }
  const pick = rng(opts.seed ^ 0x9e3779b9);
  return {
    draw() {
      const sub = subs[Math.floor(pick() * subs.length)] as Float32Array;
      const v = randn(opts.noise);
      for (let j = 0; j < d; j++) v[j] = (v[j] as number) + (sub[j] as number);
      return normalise(v);
    },
  };
}

export function clusteredVectors(n: number, opts: MixtureOptions): Float32Array[] {
  const m = mixture(opts);
  return Array.from({ length: n }, () => m.draw());
}

export function squaredL2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const t = (a[i] as number) - (b[i] as number);
    s += t * t;
  }
  return s;
}

/** Exact k nearest (by squared L2) among `items`, nearest first, ties broken by id. */
export function bruteForce(
  items: ReadonlyMap<number, Float32Array>,
  q: Float32Array,
  k: number,
): { id: number; distance: number }[] {
  const all = [...items].map(([id, v]) => ({ id, distance: squaredL2(q, v) }));
  all.sort((x, y) => x.distance - y.distance || x.id - y.id);
  return all.slice(0, k);
}

/** Mean fraction of `truth` ids found in `got`, per query. */
export function recallAt(got: readonly { id: number }[][], truth: readonly { id: number }[][]): number {
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = new Set((truth[i] ?? []).map((h) => h.id));
    if (t.size === 0) continue;
    sum += (got[i] ?? []).filter((h) => t.has(h.id)).length / t.size;
  }
  return truth.length === 0 ? 1 : sum / truth.length;
}
