/**
 * HNSW removals: tombstones filtered out of results (k results still come back), compaction in a
 * worker thread swapped in atomically, and adds/removes made during a compaction kept.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createIndex, loadIndex, type SearchHit, type VectorIndex } from '@lookalike/index';
import { bruteForce, DEFAULT_MIXTURE, mixture, randomUnitVectors, recallAt } from './synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `index-tombstones-${process.pid}`);
before(() => mkdirSync(tmp, { recursive: true }));
after(() => rmSync(tmp, { recursive: true, force: true }));

const d = 256;
const m = mixture({ ...DEFAULT_MIXTURE, centres: 40, dimension: d, seed: 31 });
const data = Array.from({ length: 2000 }, () => m.draw());
const queries = Array.from({ length: 60 }, () => m.draw());
const ids = data.map((_, i) => 10_000 + i * 3);

/** k results, all live, no duplicates, and recall@k against brute force over the live items. */
function checkAnswers(index: VectorIndex, model: Map<number, Float32Array>, k: number, minRecall: number): void {
  const got = index.searchBatch(queries, k);
  const truth = queries.map((q) => bruteForce(model, q, k));
  got.forEach((hits, i) => {
    assert.equal(hits.length, Math.min(k, model.size), `query ${i}: ${hits.length} results`);
    assert.equal(new Set(hits.map((h) => h.id)).size, hits.length, 'duplicate ids');
    for (const h of hits) assert.ok(model.has(h.id), `removed or unknown id ${h.id} returned`);
    for (let j = 1; j < hits.length; j++)
      assert.ok((hits[j - 1] as SearchHit).distance <= (hits[j] as SearchHit).distance);
  });
  const recall = recallAt(got, truth);
  assert.ok(recall >= minRecall, `recall@${k} = ${recall}`);
  // single-query path filters the same way
  assert.deepEqual(index.search(queries[0] as Float32Array, k), got[0]);
}

function modelOf(n = data.length): Map<number, Float32Array> {
  return new Map(ids.slice(0, n).map((id, i) => [id, data[i] as Float32Array]));
}

describe('hnsw tombstones', () => {
  test('GIVEN removals below the threshold THEN they are tombstoned: filtered out, k results, size/has count live items', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactAt: false });
    index.add(ids, data);
    const model = modelOf();
    // every third item, plus every item of the clusters nearest the first queries
    const gone = ids.filter((_, i) => i % 3 === 0);
    for (const q of queries.slice(0, 3)) for (const h of bruteForce(model, q, 40)) gone.push(h.id);
    const removed = index.remove([...gone, 123]);
    assert.equal(removed, new Set(gone).size);
    for (const id of gone) model.delete(id);
    assert.equal(index.size(), model.size);
    assert.equal(index.stats().stored, data.length);
    assert.equal(index.stats().tombstones, data.length - model.size);
    assert.equal(index.stats().compacting, false);
    for (const id of gone) assert.equal(index.has(id), false);
    assert.deepEqual(new Set(index.ids()), new Set(model.keys()));
    assert.equal(index.remove(gone), 0, 'removing again removes nothing');
    checkAnswers(index, model, 6, 0.97);
    checkAnswers(index, model, 50, 0.95);
    // k larger than the live items: every live item comes back
    const few = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactAt: false });
    few.add(ids.slice(0, 10), data.slice(0, 10));
    few.remove(ids.slice(0, 7));
    assert.deepEqual(new Set(few.search(queries[0] as Float32Array, 6).map((h) => h.id)), new Set(ids.slice(7, 10)));
    few.remove(ids.slice(7, 10));
    assert.deepEqual(few.search(queries[0] as Float32Array, 6), []);
    assert.equal(few.size(), 0);
    await index.close();
    await few.close();
  });

  test('GIVEN a removed id added again with a new vector THEN it is found at the new vector only, before and after compaction and a reload', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactAt: false });
    index.add(ids.slice(0, 500), data.slice(0, 500));
    const id = ids[42] as number;
    const oldVec = data[42] as Float32Array;
    const newVec = queries[5] as Float32Array; // somewhere else entirely
    assert.equal(index.remove([id]), 1);
    assert.equal(index.has(id), false);
    index.add([id], [newVec]);
    assert.equal(index.has(id), true);
    assert.equal(index.size(), 500);
    assert.equal(index.stats().stored, 501);
    assert.throws(() => index.add([id], [oldVec]), /already in the index/);
    const check = (ix: VectorIndex, when: string) => {
      const top = ix.search(newVec, 1)[0];
      assert.equal(top?.id, id, when);
      assert.ok((top?.distance ?? 1) < 1e-5, when);
      const near = ix.search(oldVec, 10);
      for (const h of near) if (h.id === id) assert.ok(h.distance > 1e-3, `${when}: old vector still found`);
      assert.equal(ix.ids().filter((x) => x === id).length, 1, when);
    };
    check(index, 'tombstoned');
    const file = join(tmp, 'readd.lkidx');
    await index.save(file);
    const loaded = await loadIndex(file, { compactAt: false });
    assert.equal(loaded.stats().tombstones, 1, 'tombstones are saved');
    check(loaded, 'loaded with a tombstone');
    await index.compact();
    assert.equal(index.stats().tombstones, 0);
    assert.equal(index.stats().stored, 500);
    assert.equal(index.stats().compactions, 1);
    check(index, 'compacted');
    // and once more: remove + re-add after the compaction
    index.remove([id]);
    index.add([id], [oldVec]);
    assert.equal(index.search(oldVec, 1)[0]?.id, id);
    await index.close();
    await loaded.close();
  });

  test('GIVEN removals past 10% THEN a compaction runs in the background, answers stay right meanwhile, and after it the graph holds only live items', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactThreads: 1 });
    index.add(ids, data);
    const model = modelOf();
    const first = ids.filter((_, i) => i % 20 === 0); // 5%: below the threshold
    index.remove(first);
    for (const id of first) model.delete(id);
    assert.equal(index.stats().compacting, false);
    const second = ids.filter((_, i) => i % 20 === 1 || i % 20 === 2); // now 15%
    index.remove(second);
    for (const id of second) model.delete(id);
    assert.equal(index.stats().compacting, true, 'compaction started');
    // answering while it runs: the old graph with tombstones
    checkAnswers(index, model, 6, 0.97);
    await index.whenIdle();
    const s = index.stats();
    assert.equal(s.compacting, false);
    assert.equal(s.compactions, 1);
    assert.equal(s.tombstones, 0);
    assert.equal(s.stored, model.size);
    assert.equal(index.size(), model.size);
    checkAnswers(index, model, 6, 0.97);
    // every live item still maps to its own id
    for (const [id, v] of [...model].slice(0, 300)) assert.equal(index.search(v, 1)[0]?.id, id);
  });

  test('GIVEN adds, removes and re-adds while a compaction runs THEN none is lost once it is swapped in', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactThreads: 1 });
    const n0 = 1500;
    index.add(ids.slice(0, n0), data.slice(0, n0));
    const model = modelOf(n0);
    const gone = ids.slice(0, 200);
    index.remove(gone);
    for (const id of gone) model.delete(id);
    assert.equal(index.stats().compacting, true);
    // right away (before the compaction reads its first chunk): a batch, removals and an update
    index.add(ids.slice(n0, n0 + 100), data.slice(n0, n0 + 100));
    for (const [i, id] of ids.slice(n0, n0 + 100).entries()) model.set(id, data[n0 + i] as Float32Array);
    const late = ids.slice(600, 620);
    index.remove(late);
    for (const id of late) model.delete(id);
    const updated = ids[700] as number;
    index.remove([updated]);
    index.add([updated], [queries[7] as Float32Array]);
    model.set(updated, queries[7] as Float32Array);
    // then, turn after turn until it is done (the snapshot is being streamed to the worker): a batch
    // larger than what is left for the swap, removals of items already streamed, single adds
    let next = n0 + 100;
    let turns = 0;
    while (index.stats().compacting) {
      await new Promise((r) => setImmediate(r));
      if (turns === 3) {
        index.add(ids.slice(next, next + 150), data.slice(next, next + 150));
        for (const [i, id] of ids.slice(next, next + 150).entries()) model.set(id, data[next + i] as Float32Array);
        next += 150;
        index.remove(ids.slice(800, 830));
        for (const id of ids.slice(800, 830)) model.delete(id);
      } else if (next < data.length && turns % 3 === 0) {
        index.add([ids[next] as number], [data[next] as Float32Array]);
        model.set(ids[next] as number, data[next] as Float32Array);
        next++;
      }
      if (turns % 5 === 4) {
        const victim = ids[1000 + (turns % 400)] as number;
        if (model.has(victim)) {
          index.remove([victim]);
          model.delete(victim);
        }
      }
      turns++;
    }
    await index.whenIdle();
    assert.ok(index.stats().compactions >= 1);
    assert.equal(index.size(), model.size);
    assert.deepEqual(new Set(index.ids()), new Set(model.keys()));
    for (const id of [...gone, ...late, ...ids.slice(800, 830)]) assert.equal(index.has(id), false);
    for (const [id, v] of model) {
      const top = index.search(v, 1)[0];
      assert.equal(top?.id, id, `item ${id} lost or misplaced`);
    }
    checkAnswers(index, model, 6, 0.97);
    assert.equal(index.search(data[700] as Float32Array, 1)[0]?.id === updated, false, 'old vector of the update');
  });

  test('GIVEN close() during a compaction THEN the compaction is dropped and the index keeps answering with its tombstones', async () => {
    const index = createIndex({ kind: 'hnsw', dimension: d, threads: 1, compactThreads: 1 });
    index.add(ids, data);
    const model = modelOf();
    const gone = ids.filter((_, i) => i % 4 === 0);
    index.remove(gone);
    for (const id of gone) model.delete(id);
    assert.equal(index.stats().compacting, true);
    await index.close();
    const s = index.stats();
    assert.equal(s.compacting, false);
    assert.equal(s.compactions, 0);
    assert.equal(s.tombstones, gone.length);
    checkAnswers(index, model, 6, 0.97);
    // automatic compaction is off after close; an explicit one still works
    index.remove([ids[1] as number]);
    model.delete(ids[1] as number);
    assert.equal(index.stats().compacting, false);
    await index.compact();
    assert.equal(index.stats().tombstones, 0);
    checkAnswers(index, model, 6, 0.97);
  });

  test('GIVEN a flat index THEN remove never leaves tombstones and compact() has nothing to do', async () => {
    const index = createIndex({ kind: 'flat', dimension: d });
    index.add(ids.slice(0, 100), randomUnitVectors(100, d, 5));
    index.remove(ids.slice(0, 50));
    assert.deepEqual(index.stats(), { live: 50, stored: 50, tombstones: 0, compacting: false, compactions: 0 });
    await index.compact();
    await index.whenIdle();
    assert.equal(index.stats().compactions, 0);
  });
});
