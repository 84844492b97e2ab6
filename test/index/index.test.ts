import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLookalikeError } from '@lookalike/core';
import { createIndex, loadIndex, type SearchHit, type VectorIndex } from '@lookalike/index';
import { rng } from '../helpers/rng.js';
import { bruteForce, DEFAULT_MIXTURE, mixture, randomUnitVectors, recallAt, squaredL2 } from './synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `index-${process.pid}`);

before(() => mkdirSync(tmp, { recursive: true }));
after(() => rmSync(tmp, { recursive: true, force: true }));

function rejectsWith(code: string) {
  return (err: unknown) => {
    assert.ok(isLookalikeError(err), `expected a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** ids not in 0..n-1 so that a position/id mix-up can't pass by accident. */
function idsFor(n: number, offset = 1000): number[] {
  return Array.from({ length: n }, (_, i) => offset + i * 7);
}

/** Same length, same distances rank by rank, and every returned id really is at its distance. */
function assertExact(got: SearchHit[], items: ReadonlyMap<number, Float32Array>, q: Float32Array, k: number) {
  const want = bruteForce(items, q, k);
  assert.equal(got.length, want.length);
  assert.equal(new Set(got.map((h) => h.id)).size, got.length, 'duplicate ids');
  for (let i = 0; i < want.length; i++) {
    const g = got[i] as SearchHit;
    assert.ok(
      Math.abs(g.distance - (want[i] as SearchHit).distance) <= 1e-4,
      `rank ${i}: ${g.distance} vs ${(want[i] as SearchHit).distance}`,
    );
    const v = items.get(g.id);
    assert.ok(v, `id ${g.id} is not a live item`);
    assert.ok(Math.abs(squaredL2(q, v) - g.distance) <= 1e-4, `id ${g.id} reported at ${g.distance}`);
  }
}

describe('flat index', () => {
  const d = 2048;
  const vectors = randomUnitVectors(300, d, 11);
  const ids = idsFor(vectors.length);
  const byId = new Map(ids.map((id, i) => [id, vectors[i] as Float32Array]));
  const queries = randomUnitVectors(20, d, 12);

  test('GIVEN a few hundred random vectors THEN search equals brute force (ids and squared L2)', () => {
    const index = createIndex({ kind: 'flat', dimension: d });
    index.add(ids, vectors);
    assert.equal(index.size(), vectors.length);
    assert.equal(index.kind, 'flat');
    assert.equal(index.dimension, d);
    for (const q of queries) assertExact(index.search(q, 6), byId, q, 6);
    // a member finds itself at distance ~0
    const self = index.search(vectors[42] as Float32Array, 1)[0];
    assert.equal(self?.id, ids[42]);
    assert.ok((self?.distance ?? 1) < 1e-5);
  });

  test('GIVEN several batches of queries THEN searchBatch equals per-query search', () => {
    const index = createIndex({ dimension: d });
    index.add(ids.slice(0, 150), vectors.slice(0, 150));
    index.add(ids.slice(150), vectors.slice(150));
    const batch = index.searchBatch(queries, 6);
    assert.equal(batch.length, queries.length);
    // the batch path may use BLAS, so distances agree to float precision rather than bit for bit
    queries.forEach((q, i) => {
      const one = index.search(q, 6);
      assert.deepEqual(
        batch[i]?.map((h) => h.id),
        one.map((h) => h.id),
      );
      for (const [j, h] of (batch[i] ?? []).entries()) {
        assert.ok(Math.abs(h.distance - (one[j] as SearchHit).distance) < 1e-5);
      }
    });
  });

  test('GIVEN several removes THEN removed ids never come back and positions stay right', () => {
    const index = createIndex({ dimension: d });
    index.add(ids, vectors);
    const live = new Map(byId);
    const removals = [
      [ids[0], ids[1]],
      ids.slice(100, 140),
      [ids[299], ids[150], 123456789],
      ids.filter((_, i) => i % 5 === 2),
    ];
    for (const batch of removals) {
      const expected = batch.filter((id) => live.has(id as number)).length;
      assert.equal(index.remove(batch as number[]), expected);
      for (const id of batch) live.delete(id as number);
      assert.equal(index.size(), live.size);
      for (const id of batch) assert.equal(index.has(id as number), false);
      for (const q of queries) {
        const got = index.search(q, 6);
        for (const h of got) assert.ok(live.has(h.id), `removed id ${h.id} returned`);
        assertExact(got, live, q, 6);
      }
      // every remaining vector still maps to its own id (positions compacted correctly)
      for (const [id, v] of live) {
        const top = index.search(v, 1)[0];
        assert.equal(top?.id, id);
      }
    }
    assert.deepEqual(new Set(index.ids()), new Set(live.keys()));
    // re-adding a removed id works
    index.add([ids[0] as number], [vectors[0] as Float32Array]);
    assert.equal(index.search(vectors[0] as Float32Array, 1)[0]?.id, ids[0]);
  });

  test('GIVEN random interleaved adds and removes THEN the flat index always equals brute force over the live items', () => {
    const index = createIndex({ dimension: d });
    const pool = randomUnitVectors(400, d, 13);
    const live = new Map<number, Float32Array>();
    const pick = rng(99);
    for (let step = 0; step < 40; step++) {
      if (pick() < 0.55 || live.size < 20) {
        const batch = Array.from({ length: 1 + Math.floor(pick() * 15) }, () =>
          Math.floor(pick() * pool.length),
        ).filter((i, j, all) => all.indexOf(i) === j && !live.has(i));
        index.add(
          batch,
          batch.map((i) => pool[i] as Float32Array),
        );
        for (const i of batch) live.set(i, pool[i] as Float32Array);
      } else {
        // often the last positions, the first position, or a run: every swap case
        const keys = [...live.keys()];
        const batch = Array.from(
          { length: 1 + Math.floor(pick() * 12) },
          () => keys[Math.floor(pick() * keys.length)] as number,
        );
        if (step % 4 === 0) batch.push(...index.ids().slice(-3), index.ids()[0] as number);
        const expected = new Set(batch).size;
        assert.equal(index.remove(batch), expected);
        for (const id of batch) live.delete(id);
      }
      assert.equal(index.size(), live.size);
      assert.deepEqual(new Set(index.ids()), new Set(live.keys()));
      assert.equal(index.stats().tombstones, 0);
      for (const [id, v] of live) assert.equal(index.search(v, 1)[0]?.id, id, `step ${step}: id ${id}`);
      for (const q of queries.slice(0, 5)) assertExact(index.search(q, 6), live, q, 6);
    }
  });

  test('GIVEN k larger than the index THEN it returns every item, nearest first', () => {
    const index = createIndex({ dimension: d });
    assert.deepEqual(index.search(queries[0] as Float32Array, 6), []);
    index.add(ids.slice(0, 4), vectors.slice(0, 4));
    const got = index.search(queries[0] as Float32Array, 50);
    assert.equal(got.length, 4);
    assert.deepEqual(new Set(got.map((h) => h.id)), new Set(ids.slice(0, 4)));
    for (let i = 1; i < got.length; i++)
      assert.ok((got[i - 1] as SearchHit).distance <= (got[i] as SearchHit).distance);
    assert.deepEqual(index.search(queries[0] as Float32Array, 0), []);
    assert.deepEqual(
      index.searchBatch([queries[0] as Float32Array, queries[1] as Float32Array], 9).map((r) => r.length),
      [4, 4],
    );
  });

  test('GIVEN bad input THEN INTERNAL errors, and the index is unchanged', () => {
    const index = createIndex({ dimension: d });
    index.add(ids.slice(0, 3), vectors.slice(0, 3));
    assert.throws(() => index.add([1], [new Float32Array(d - 1)]), rejectsWith('INTERNAL'));
    assert.throws(() => index.add([1, 2], [vectors[5] as Float32Array]), rejectsWith('INTERNAL'));
    assert.throws(() => index.add([ids[0] as number], [vectors[9] as Float32Array]), rejectsWith('INTERNAL'));
    assert.throws(
      () => index.add([7, 7], [vectors[8] as Float32Array, vectors[9] as Float32Array]),
      rejectsWith('INTERNAL'),
    );
    assert.throws(() => index.add([1.5], [vectors[9] as Float32Array]), rejectsWith('INTERNAL'));
    const nan = new Float32Array(d);
    nan[3] = Number.NaN;
    assert.throws(() => index.add([8], [nan]), rejectsWith('INTERNAL'));
    // a bad vector late in a batch larger than one native chunk: nothing of the batch is added
    const big = Array.from({ length: 600 }, (_, i) => (i === 599 ? nan : (vectors[i % 300] as Float32Array)));
    assert.throws(() => index.add(idsFor(600, 90_000), big), rejectsWith('INTERNAL'));
    assert.throws(() => index.search(new Float32Array(16), 3), rejectsWith('INTERNAL'));
    assert.throws(() => index.search(queries[0] as Float32Array, -1), rejectsWith('INTERNAL'));
    assert.throws(() => index.setEfSearch(64), rejectsWith('INTERNAL'));
    assert.equal(index.size(), 3);
    assert.equal(index.search(vectors[1] as Float32Array, 1)[0]?.id, ids[1]);
  });
});

describe('hnsw index', () => {
  const d = 2048;
  const m = mixture({ ...DEFAULT_MIXTURE, centres: 60, dimension: d, seed: 7 });
  const data = Array.from({ length: 5000 }, () => m.draw());
  const queries = Array.from({ length: 200 }, () => m.draw()); // held out, not members
  const ids = idsFor(data.length, 50_000);
  let flat: VectorIndex;
  let hnsw: VectorIndex;
  let truth: SearchHit[][];

  before(() => {
    flat = createIndex({ kind: 'flat', dimension: d });
    flat.add(ids, data);
    hnsw = createIndex({ kind: 'hnsw', dimension: d, threads: 1 }); // one thread: the same graph every run
    hnsw.add(ids, data);
    truth = flat.searchBatch(queries, 6);
  });

  test('GIVEN 5,000 clustered vectors THEN HNSW (M=32, default efSearch 96) recall@6 vs flat is >= 0.99', () => {
    assert.equal(hnsw.kind, 'hnsw');
    assert.equal(hnsw.M, 32);
    assert.equal(hnsw.efSearch, 96);
    assert.equal(hnsw.size(), data.length);
    const recall = recallAt(hnsw.searchBatch(queries, 6), truth);
    assert.ok(recall >= 0.99, `recall@6 = ${recall}`);
    // single-query path agrees with the batch path
    assert.deepEqual(hnsw.search(queries[3] as Float32Array, 6), hnsw.searchBatch([queries[3] as Float32Array], 6)[0]);
  });

  test('GIVEN a changed efSearch THEN search quality changes accordingly', () => {
    // structure-free vectors are the hard case where a narrow search visibly misses neighbours
    const pts = randomUnitVectors(3000, 256, 3);
    const qs = randomUnitVectors(100, 256, 4);
    const exact = createIndex({ dimension: 256 });
    exact.add(
      pts.map((_, i) => i),
      pts,
    );
    const approx = createIndex({ kind: 'hnsw', dimension: 256, efSearch: 1, threads: 1 });
    approx.add(
      pts.map((_, i) => i),
      pts,
    );
    const t = exact.searchBatch(qs, 6);
    const narrow = recallAt(approx.searchBatch(qs, 6), t);
    approx.setEfSearch(512);
    assert.equal(approx.efSearch, 512);
    const wide = recallAt(approx.searchBatch(qs, 6), t);
    assert.ok(wide >= 0.98, `recall at efSearch 512 = ${wide}`);
    assert.ok(narrow < wide - 0.2, `efSearch 1 gave ${narrow}, 512 gave ${wide}`);
    assert.throws(() => approx.setEfSearch(0), rejectsWith('INTERNAL'));
  });

  test('GIVEN removes on HNSW THEN removed ids never come back and the rest is still found', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, efSearch: 64, threads: 1 });
    const n = 600;
    index.add(ids.slice(0, n), data.slice(0, n));
    const gone = ids.filter((_, i) => i < n && (i % 3 === 0 || i < 20));
    assert.equal(index.remove([...gone, 999]), gone.length);
    assert.equal(index.remove(gone), 0);
    const goneSet = new Set(gone);
    assert.equal(index.size(), n - gone.length);
    assert.equal(index.efSearch, 64);
    for (let i = 0; i < n; i += 2) {
      const top = index.search(data[i] as Float32Array, 6);
      for (const h of top) assert.ok(!goneSet.has(h.id), `removed id ${h.id} returned`);
      if (!goneSet.has(ids[i] as number)) assert.equal(top[0]?.id, ids[i]);
    }
    index.add([ids[0] as number], [data[0] as Float32Array]);
    assert.equal(index.search(data[0] as Float32Array, 1)[0]?.id, ids[0]);
    await index.close();
  });
});

describe('save and load', () => {
  const d = 512;
  const vectors = randomUnitVectors(400, d, 21);
  const ids = idsFor(vectors.length, 7);
  const queries = randomUnitVectors(25, d, 22);

  for (const kind of ['flat', 'hnsw'] as const) {
    test(`GIVEN a saved ${kind} index with removals THEN loading it gives the same answers`, async () => {
      const index = createIndex({ kind, dimension: d, efSearch: 200 });
      index.add(ids, vectors);
      index.remove(ids.slice(10, 30));
      const file = join(tmp, `${kind}.lkidx`);
      await index.save(file);
      const loaded = await loadIndex(file, { dimension: d });
      assert.equal(loaded.kind, kind);
      assert.equal(loaded.dimension, d);
      assert.equal(loaded.size(), index.size());
      assert.deepEqual(loaded.ids(), index.ids());
      assert.equal(loaded.efSearch, kind === 'hnsw' ? 200 : undefined);
      assert.deepEqual(loaded.searchBatch(queries, 6), index.searchBatch(queries, 6));
      // the loaded index keeps working: add, remove, save again over the same path
      loaded.add([1], [queries[0] as Float32Array]);
      assert.equal(loaded.search(queries[0] as Float32Array, 1)[0]?.id, 1);
      loaded.remove([ids[0] as number]);
      await loaded.save(file);
      const again = await loadIndex(file, { efSearch: 50 });
      assert.equal(again.size(), index.size());
      assert.equal(again.has(ids[0] as number), false);
      if (kind === 'hnsw') assert.equal(again.efSearch, 50);
    });
  }

  test('GIVEN a corrupt, truncated or foreign file THEN loadIndex throws INDEX_CORRUPT', async () => {
    const index = createIndex({ kind: 'flat', dimension: d });
    index.add(ids, vectors);
    const good = join(tmp, 'good.lkidx');
    await index.save(good);
    const bytes = readFileSync(good);
    const cases: Record<string, Uint8Array> = {
      truncated: bytes.subarray(0, bytes.length - 100),
      'cut in header': bytes.subarray(0, 20),
      empty: new Uint8Array(0),
      'flipped byte in vectors': (() => {
        const b = Buffer.from(bytes);
        b[b.length - 5000] = (b[b.length - 5000] as number) ^ 0xff;
        return b;
      })(),
      'trailing garbage': Buffer.concat([bytes, Buffer.from('xyz')]),
      foreign: Buffer.from('this is not an index at all, just some text that is long enough'),
    };
    for (const [name, content] of Object.entries(cases)) {
      const f = join(tmp, `bad-${name.replace(/ /g, '-')}.lkidx`);
      writeFileSync(f, content);
      await assert.rejects(loadIndex(f), rejectsWith('INDEX_CORRUPT'), name);
    }
    await assert.rejects(loadIndex(good, { dimension: 2048 }), rejectsWith('INDEX_CORRUPT'));
    await assert.rejects(loadIndex(join(tmp, 'missing.lkidx')), rejectsWith('INTERNAL'));
    // the good file is untouched by all this
    assert.equal((await loadIndex(good)).size(), ids.length);
  });
});

test('GIVEN faiss-node cannot be loaded THEN importing works and creating an index throws FAISS_UNAVAILABLE', () => {
  const hook = join(tmp, 'no-faiss.cjs');
  writeFileSync(
    hook,
    `const M = require('node:module'); const orig = M._resolveFilename;
     M._resolveFilename = function (req, ...rest) { if (req === 'faiss-node') { const e = new Error("Cannot find module 'faiss-node'"); e.code = 'MODULE_NOT_FOUND'; throw e; } return orig.call(this, req, ...rest); };`,
  );
  const script = `
    const m = await import('@lookalike/index');
    const out = { status: m.faissStatus().ok };
    try { m.createIndex({ kind: 'flat', dimension: 4 }); } catch (e) { out.code = e.code; out.message = e.message; }
    try { await m.loadIndex('/nonexistent'); } catch (e) { out.loadCode = e.code; }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--require', hook, '--input-type=module', '-e', script],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  assert.equal(out.status, false);
  assert.equal(out.code, 'FAISS_UNAVAILABLE');
  assert.equal(out.loadCode, 'FAISS_UNAVAILABLE');
  assert.match(out.message, /npm run setup/);
});
