/**
 * flat-sq8: 8-bit codes scanned (AVX2 or the scalar fallback), the top 64 re-ranked with the exact
 * vectors: recall@6 against exact flat, exact distances, updates, save/load, and its size.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createIndex, type ExactVectors, loadIndex } from '@lookalike/index';
import { bruteForce, clusteredVectors, DEFAULT_MIXTURE, mixture, recallAt } from './synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `compact-${process.pid}`);
before(() => mkdirSync(tmp, { recursive: true }));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Native {
  addFloat32(x: Float32Array): void;
  searchScan(x: Float32Array, k: number): { distances: Float32Array; labels: Float64Array };
  setScanSimd(on: boolean): boolean;
  reconstructBatch(start: number, n: number): Float32Array;
  toBuffer(): Buffer;
}
const faiss = createRequire(import.meta.url)('faiss-node') as {
  Index: { newCompact(d: number, bits: number): Native };
};

const d = 2048;
const opts = { ...DEFAULT_MIXTURE, centres: 60, dimension: d, seed: 61 };
const vs = clusteredVectors(3000, opts);
const ids = vs.map((_, i) => 100 + i * 2);
const byId = new Map(ids.map((id, i) => [id, vs[i] as Float32Array]));
const exactVectors: ExactVectors = (want) => want.map((id) => byId.get(id));
const m = mixture({ ...opts, seed: 61 });
for (let i = 0; i < 3000; i++) m.draw(); // same mixture, held-out draws
const queries = Array.from({ length: 60 }, () => m.draw());

describe('flat-sq8', () => {
  test('recall@6 = 1 against exact flat, with exact distances', () => {
    const sq8 = createIndex({ kind: 'flat-sq8', dimension: d, exactVectors, threads: 1 });
    sq8.add(ids, vs);
    const flat = createIndex({ dimension: d, threads: 1 });
    flat.add(ids, vs);
    const got = queries.map((q) => sq8.search(q, 6));
    const truth = queries.map((q) => flat.search(q, 6));
    assert.equal(recallAt(got, truth), 1);
    got.forEach((hits, qi) => {
      hits.forEach((h, r) => {
        const t = (truth[qi] ?? [])[r];
        assert.equal(h.id, t?.id);
        assert.ok(Math.abs(h.distance - (t?.distance ?? 0)) <= 1e-5 * Math.max(1, h.distance), `q${qi} rank ${r}`);
      });
    });
    const batch = sq8.searchBatch(queries.slice(0, 8), 6);
    assert.deepEqual(
      batch.map((hs) => hs.map((h) => h.id)),
      got.slice(0, 8).map((hs) => hs.map((h) => h.id)),
    );
  });

  test('filtered, removed and re-added items; k > size', () => {
    const sq8 = createIndex({ kind: 'flat-sq8', dimension: d, exactVectors, threads: 1 });
    sq8.add(ids.slice(0, 1000), vs.slice(0, 1000));
    sq8.remove(ids.filter((_, i) => i < 1000 && i % 4 === 0));
    const live = new Map<number, Float32Array>();
    ids.slice(0, 1000).forEach((id, i) => {
      if (i % 4 !== 0) live.set(id, vs[i] as Float32Array);
    });
    for (const q of queries.slice(0, 10)) {
      assert.deepEqual(
        sq8.search(q, 6).map((h) => h.id),
        bruteForce(live, q, 6).map((h) => h.id),
      );
      const allow = (id: number) => id % 6 === 0;
      const allowed = new Map([...live].filter(([id]) => allow(id)));
      assert.deepEqual(
        sq8.search(q, 6, { allow }).map((h) => h.id),
        bruteForce(allowed, q, 6).map((h) => h.id),
      );
    }
    assert.equal(sq8.search(queries[0] as Float32Array, 5000).length, live.size);
    assert.deepEqual(sq8.vector(ids[1] as number), vs[1], 'vector(id) is the exact vector');
  });

  test('save and load: same answers; the file is about a quarter of flat', async () => {
    const sq8 = createIndex({ kind: 'flat-sq8', dimension: d, exactVectors, threads: 1 });
    sq8.add(ids, vs);
    const flat = createIndex({ dimension: d, threads: 1 });
    flat.add(ids, vs);
    await sq8.save(join(tmp, 'sq8.lkidx'));
    await flat.save(join(tmp, 'flat.lkidx'));
    const ratio = statSync(join(tmp, 'sq8.lkidx')).size / statSync(join(tmp, 'flat.lkidx')).size;
    assert.ok(ratio <= 0.3, `sq8 file is ${ratio.toFixed(3)} of flat`);
    const back = await loadIndex(join(tmp, 'sq8.lkidx'), { exactVectors, threads: 1 });
    assert.equal(back.kind, 'flat-sq8');
    for (const q of queries.slice(0, 10)) assert.deepEqual(back.search(q, 6), sq8.search(q, 6));
    await Promise.all([sq8.close(), flat.close(), back.close()]);
  });

  test('without exactVectors it ranks by the decoded codes (still the right neighbours here)', () => {
    const sq8 = createIndex({ kind: 'flat-sq8', dimension: d, threads: 1 });
    sq8.add(ids, vs);
    const got = queries.map((q) => sq8.search(q, 6));
    const truth = queries.map((q) => bruteForce(byId, q, 6));
    assert.ok(recallAt(got, truth) >= 0.99);
  });
});

describe('compact native kernels', () => {
  for (const bits of [8, 16]) {
    test(`${bits}-bit: the AVX2 and scalar kernels agree; codes decode close to the input`, () => {
      const c = faiss.Index.newCompact(d, bits);
      const packed = new Float32Array(500 * d);
      vs.slice(0, 500).forEach((v, i) => {
        packed.set(v, i * d);
      });
      c.addFloat32(packed);
      const back = c.reconstructBatch(0, 500);
      let worst = 0;
      for (let i = 0; i < packed.length; i++)
        worst = Math.max(worst, Math.abs((back[i] as number) - (packed[i] as number)));
      assert.ok(worst < (bits === 8 ? 2e-3 : 1e-4), `decoded error ${worst}`);
      assert.equal(c.toBuffer().length, 32 + 500 * (bits === 8 ? d + 8 : 2 * d + 4));
      for (const q of queries.slice(0, 5)) {
        c.setScanSimd(true);
        const a = c.searchScan(q, 64);
        c.setScanSimd(false);
        const b = c.searchScan(q, 64);
        for (let i = 0; i < 64; i++)
          assert.ok(Math.abs((a.distances[i] as number) - (b.distances[i] as number)) < 1e-4, `rank ${i}`);
        const sa = new Set(a.labels);
        assert.ok([...b.labels].filter((l) => sa.has(l)).length >= 62);
      }
    });
  }
});
