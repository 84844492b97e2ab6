/**
 * The exact flat path (searchScan: OpenBLAS sgemv/sgemm over FAISS's own storage, cached norms,
 * exact re-score of the candidates) against FAISS's IndexFlatL2.search itself, and filtered
 * search against brute force over the allowed items.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { createIndex, type SearchHit } from '@lookalike/index';
import { rng } from '../helpers/rng.js';
import { bruteForce, clusteredVectors, DEFAULT_MIXTURE, gaussian, randomUnitVectors } from './synthetic.js';

interface NativeResult {
  distances: Float32Array;
  labels: Float64Array;
}
interface Native {
  addFloat32(x: Float32Array): void;
  searchFloat32(x: Float32Array, k: number): NativeResult;
  searchScan(x: Float32Array, k: number, allowed?: Uint8Array): NativeResult;
  removeSwapLast(positions: number[]): number;
  ntotal(): number;
}
const faiss = createRequire(import.meta.url)('faiss-node') as { Index: new (d: number) => Native };

function pack(vs: readonly Float32Array[], d: number): Float32Array {
  const out = new Float32Array(vs.length * d);
  vs.forEach((v, i) => {
    out.set(v, i * d);
  });
  return out;
}

/** Same labels in the same order; distances within 1e-5 relative (of the larger, floor 1e-6). */
function assertSameAsFaiss(got: NativeResult, want: NativeResult, what: string) {
  assert.deepEqual(Array.from(got.labels), Array.from(want.labels), `${what}: labels`);
  for (let i = 0; i < want.distances.length; i++) {
    const a = got.distances[i] as number;
    const b = want.distances[i] as number;
    assert.ok(
      Math.abs(a - b) <= 1e-5 * Math.max(Math.abs(a), Math.abs(b), 1e-1),
      `${what}: distance ${i}: ${a} vs ${b}`,
    );
  }
}

/**
 * 1,500 stored vectors: clustered unit vectors, exact duplicates of some of them (equal distances:
 * ties) and small-integer vectors (many exactly equal distances).
 */
function trickyStore(d: number, seed: number): Float32Array[] {
  const base = clusteredVectors(1200, { ...DEFAULT_MIXTURE, centres: 20, dimension: d, seed });
  const r = rng(seed + 1);
  const dups = Array.from({ length: 200 }, () => base[Math.floor(r() * base.length)] as Float32Array);
  const ints = Array.from({ length: 100 }, () => {
    const v = new Float32Array(d);
    for (let j = 0; j < d; j++) v[j] = r() < 0.1 ? 1 : 0;
    return v;
  });
  return [...base, ...dups, ...ints];
}

describe('exact flat search (searchScan) = IndexFlatL2.search', () => {
  const d = 64;
  const store = trickyStore(d, 5);
  const native = new faiss.Index(d);
  native.addFloat32(pack(store, d));

  test('2,000 random queries, incl. stored vectors (distance 0), duplicates, ties and k > size', () => {
    const r = rng(9);
    const g = gaussian(rng(10));
    for (let i = 0; i < 2000; i++) {
      let q: Float32Array;
      const kind = i % 4;
      if (kind === 0)
        q = store[Math.floor(r() * store.length)] as Float32Array; // a stored (maybe duplicated) vector
      else if (kind === 1) q = randomUnitVectors(1, d, 1000 + i)[0] as Float32Array;
      else if (kind === 2) {
        q = new Float32Array(d); // small integers: ties with the integer vectors
        for (let j = 0; j < d; j++) q[j] = r() < 0.1 ? 1 : 0;
      } else {
        q = Float32Array.from(store[Math.floor(r() * 1200)] as Float32Array, (v) => v + 0.02 * g());
      }
      const k = [1, 6, 20, 64][i % 4] as number;
      assertSameAsFaiss(native.searchScan(q, k), native.searchFloat32(q, k), `query ${i} (kind ${kind}, k ${k})`);
    }
  });

  test('k larger than the index: every vector, then -1 padding, as FAISS pads', () => {
    const small = new faiss.Index(d);
    small.addFloat32(pack(store.slice(0, 100), d));
    for (const q of [store[3] as Float32Array, store[1300] as Float32Array]) {
      const got = small.searchScan(q, 130);
      assertSameAsFaiss(got, small.searchFloat32(q, 130), 'k 130 of 100');
      assert.equal(got.labels[99] !== -1 && got.labels[100], -1);
    }
  });

  test('a batch (sgemm) answers as the single queries do', () => {
    const qs = randomUnitVectors(37, d, 77);
    const batch = native.searchScan(pack(qs, d), 6);
    qs.forEach((q, i) => {
      const one = native.searchFloat32(q, 6);
      assertSameAsFaiss(
        { labels: batch.labels.subarray(i * 6, i * 6 + 6), distances: batch.distances.subarray(i * 6, i * 6 + 6) },
        one,
        `batch query ${i}`,
      );
    });
  });

  test('2048-d: single queries and a batch', () => {
    const D = 2048;
    const xs = clusteredVectors(400, { ...DEFAULT_MIXTURE, centres: 10, dimension: D, seed: 21 });
    const big = new faiss.Index(D);
    big.addFloat32(pack([...xs, ...xs.slice(0, 40)], D));
    const qs = [...xs.slice(0, 10), ...randomUnitVectors(10, D, 22)];
    for (const [i, q] of qs.entries()) assertSameAsFaiss(big.searchScan(q, 6), big.searchFloat32(q, 6), `2048-d ${i}`);
    const batch = big.searchScan(pack(qs, D), 6);
    qs.forEach((q, i) => {
      assert.deepEqual(Array.from(batch.labels.subarray(i * 6, i * 6 + 6)), Array.from(big.searchFloat32(q, 6).labels));
    });
  });

  test('norms follow removeSwapLast and later adds', () => {
    const ix = new faiss.Index(d);
    ix.addFloat32(pack(store.slice(0, 600), d));
    const qs = randomUnitVectors(20, d, 31);
    const check = (what: string) => {
      for (const q of qs) assertSameAsFaiss(ix.searchScan(q, 10), ix.searchFloat32(q, 10), what);
    };
    check('before');
    ix.removeSwapLast([0, 599, 17, 300, 301]); // norms of moved vectors must move too
    check('after removal');
    ix.addFloat32(pack(store.slice(1000, 1300), d)); // incl. duplicates of earlier vectors
    check('after add');
    ix.removeSwapLast(Array.from({ length: 400 }, (_, i) => i * 2));
    check('after removing 400');
    assert.equal(ix.ntotal(), 495);
  });
});

describe('VectorIndex flat: exact and filtered search', () => {
  const d = 96;
  const vs = clusteredVectors(3000, { ...DEFAULT_MIXTURE, centres: 30, dimension: d, seed: 41 });
  const ids = vs.map((_, i) => 5000 + i * 3);

  function assertBrute(got: SearchHit[], items: Map<number, Float32Array>, q: Float32Array, k: number, what: string) {
    const want = bruteForce(items, q, k);
    assert.equal(got.length, want.length, `${what}: count`);
    for (let i = 0; i < want.length; i++) {
      const g = got[i] as SearchHit;
      const w = want[i] as SearchHit;
      assert.ok(Math.abs(g.distance - w.distance) <= 1e-5 * Math.max(1, w.distance), `${what}: rank ${i}`);
      assert.ok(items.has(g.id), `${what}: id ${g.id} is not allowed`);
    }
    assert.deepEqual(
      got.map((h) => h.id).sort(),
      want.map((h) => h.id).sort(),
      `${what}: ids (no near ties in this data)`,
    );
  }

  for (const kind of ['flat', 'hnsw'] as const) {
    test(`${kind}: filtered search = brute force over the allowed items (dense and sparse filters)`, () => {
      const index = createIndex({ kind, dimension: d, threads: 1 });
      index.add(ids, vs);
      index.remove(ids.filter((_, i) => i % 10 === 0)); // hnsw: tombstones, flat: swaps
      const live = new Map<number, Float32Array>();
      ids.forEach((id, i) => {
        if (i % 10 !== 0) live.set(id, vs[i] as Float32Array);
      });
      const qs = randomUnitVectors(25, d, 42);
      for (const [name, allow] of [
        ['every third', (id: number) => id % 9 === 0],
        ['1 in 50', (id: number) => id % 150 === 2],
        ['none', () => false],
      ] as const) {
        const allowed = new Map([...live].filter(([id]) => allow(id)));
        for (const [qi, q] of qs.entries()) {
          assertBrute(index.search(q, 6, { allow }), allowed, q, 6, `${name} q${qi}`);
        }
        const batch = index.searchBatch(qs.slice(0, 5), 40, { allow });
        batch.forEach((hits, qi) => {
          assertBrute(hits, allowed, qs[qi] as Float32Array, 40, `${name} batch q${qi}`);
        });
      }
    });
  }

  test('flat: unfiltered search after removes and re-adds = brute force', () => {
    const index = createIndex({ dimension: d, threads: 1 });
    index.add(ids.slice(0, 2000), vs.slice(0, 2000));
    const items = new Map(ids.slice(0, 2000).map((id, i) => [id, vs[i] as Float32Array]));
    const gone = ids.filter((_, i) => i < 2000 && i % 7 === 3);
    index.remove(gone);
    for (const id of gone) items.delete(id);
    // Re-add some removed ids with other vectors, and new ids.
    const back = gone.slice(0, 50);
    index.add(back, vs.slice(2000, 2050));
    back.forEach((id, i) => {
      items.set(id, vs[2000 + i] as Float32Array);
    });
    index.add(ids.slice(2050, 2400), vs.slice(2050, 2400));
    ids.slice(2050, 2400).forEach((id, i) => {
      items.set(id, vs[2050 + i] as Float32Array);
    });
    for (const [qi, q] of randomUnitVectors(30, d, 43).entries())
      assertBrute(index.search(q, 6), items, q, 6, `q${qi}`);
    assertBrute(index.search(vs[2001] as Float32Array, 6), items, vs[2001] as Float32Array, 6, 're-added vector');
    assert.equal(index.search(vs[0] as Float32Array, items.size + 10).length, items.size, 'k > size: every item');
  });
});
