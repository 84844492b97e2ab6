/**
 * flat-sq8's second step: the 8-bit scan's candidates re-scored with the exact fp32 vectors (from
 * `exactVectors`, e.g. the catalog store; the decoded code where it has none), nearest first,
 * ties by the lower position, as the exact flat path orders them.
 */
import { internal } from './checks.js';
import type { NativeSearchResult } from './faiss.js';
import type { ExactVectors } from './types.js';

export interface RerankSource {
  /** The id at a position (NaN for a tombstone). */
  idAt: (pos: number) => number;
  exact: ExactVectors | undefined;
  /** The decoded 8-bit vector at a position. */
  decoded: (pos: number) => Float32Array;
}

/** Re-ranks `r` (nq rows of candidates for the nq queries packed in `x`) down to `k` per query. */
export function rerankExact(
  x: Float32Array,
  dimension: number,
  r: NativeSearchResult,
  k: number,
  src: RerankSource,
): NativeSearchResult {
  const nq = x.length / dimension;
  const per = r.labels.length / nq;
  const vectors = candidateVectors(r.labels, dimension, src);
  const labels = new Float64Array(nq * k).fill(-1);
  const distances = new Float32Array(nq * k).fill(Number.MAX_VALUE);
  const scored: { pos: number; d: number }[] = [];
  for (let q = 0; q < nq; q++) {
    const qv = x.subarray(q * dimension, (q + 1) * dimension);
    scored.length = 0;
    for (let m = q * per; m < (q + 1) * per; m++) {
      const pos = r.labels[m] as number;
      if (pos < 0) continue;
      scored.push({ pos, d: squaredL2(qv, vectors.get(pos) as Float32Array) });
    }
    scored.sort((a, b) => a.d - b.d || a.pos - b.pos);
    for (let m = 0; m < Math.min(k, scored.length); m++) {
      const s = scored[m] as { pos: number; d: number };
      labels[q * k + m] = s.pos;
      distances[q * k + m] = s.d;
    }
  }
  return { labels, distances };
}

/** The vector of every candidate position: one `exact` call for all of them, decoded codes otherwise. */
function candidateVectors(labels: Float64Array, dimension: number, src: RerankSource): Map<number, Float32Array> {
  const positions = [...new Set(labels)].filter((p) => p >= 0);
  const out = new Map<number, Float32Array>();
  const withId = positions.filter((p) => !Number.isNaN(src.idAt(p)));
  const exact = src.exact && withId.length > 0 ? src.exact(withId.map(src.idAt)) : [];
  if (src.exact && exact.length !== withId.length)
    throw internal(`exactVectors returned ${exact.length} vectors for ${withId.length} ids`);
  withId.forEach((p, i) => {
    const v = exact[i];
    if (v === undefined) return;
    if (v.length !== dimension)
      throw internal(`exactVectors: the vector of id ${src.idAt(p)} has length ${v.length}, expected ${dimension}`);
    out.set(p, v);
  });
  for (const p of positions) if (!out.has(p)) out.set(p, src.decoded(p));
  return out;
}

function squaredL2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const t = (a[i] as number) - (b[i] as number);
    s += t * t;
  }
  return Math.fround(s);
}
