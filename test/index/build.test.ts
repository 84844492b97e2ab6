/**
 * Building a whole index in a worker thread from streamed chunks (the catalog's start-up path).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLookalikeError } from '@lookalike/core';
import { buildIndexInWorker, createIndex, loadIndex } from '@lookalike/index';
import { DEFAULT_MIXTURE, mixture } from './synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `index-build-${process.pid}`);
before(() => mkdirSync(tmp, { recursive: true }));
after(() => rmSync(tmp, { recursive: true, force: true }));

function isCode(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(isLookalikeError(err), `expected a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

const d = 512;
const m = mixture({ ...DEFAULT_MIXTURE, centres: 50, dimension: d, seed: 51 });
const data = Array.from({ length: 2400 }, () => m.draw());
const queries = Array.from({ length: 40 }, () => m.draw());
const ids = data.map((_, i) => 70_000 + i * 11);
const CHUNK = 500;

describe('buildIndexInWorker', () => {
  for (const kind of ['flat', 'hnsw'] as const) {
    test(`GIVEN the same chunks THEN a ${kind} index built in a worker answers exactly like one built on the main thread`, async () => {
      // one OpenMP thread on both sides and the same chunking: the same HNSW graph
      const main = createIndex({ kind, dimension: d, threads: 1 });
      const builder = buildIndexInWorker({ kind, dimension: d, buildThreads: 1, threads: 1 });
      const sent: Promise<void>[] = [];
      for (let from = 0; from < data.length; from += CHUNK) {
        main.add(ids.slice(from, from + CHUNK), data.slice(from, from + CHUNK));
        sent.push(builder.add(ids.slice(from, from + CHUNK), data.slice(from, from + CHUNK)));
      }
      assert.equal(builder.added, data.length);
      await Promise.all(sent);
      const built = await builder.finish();
      assert.equal(built.kind, kind);
      assert.equal(built.dimension, d);
      assert.equal(built.M, main.M);
      assert.equal(built.efSearch, main.efSearch);
      assert.equal(built.size(), data.length);
      assert.deepEqual(built.ids(), main.ids());
      assert.deepEqual(built.searchBatch(queries, 6), main.searchBatch(queries, 6));
      for (const q of queries.slice(0, 10)) assert.deepEqual(built.search(q, 6), main.search(q, 6));
      // the caller's vectors were copied, not transferred away
      assert.equal((data[0] as Float32Array).length, d);
      // and it is a normal index: add, remove, save
      built.remove(ids.slice(0, 10));
      built.add([1], [queries[0] as Float32Array]);
      assert.equal(built.search(queries[0] as Float32Array, 1)[0]?.id, 1);
      assert.equal(built.size(), data.length - 9);
      await built.close();
    });
  }

  test('GIVEN finish({ saveTo }) THEN the worker writes the file too, and it loads with the same answers', async () => {
    const builder = buildIndexInWorker({ kind: 'hnsw', dimension: d, efSearch: 128 });
    for (let from = 0; from < 1000; from += 250) {
      await builder.add(ids.slice(from, from + 250), data.slice(from, from + 250));
    }
    const file = join(tmp, 'built.lkidx');
    const built = await builder.finish({ saveTo: file });
    const loaded = await loadIndex(file, { dimension: d });
    assert.equal(loaded.kind, 'hnsw');
    assert.equal(loaded.efSearch, 128);
    assert.deepEqual(loaded.ids(), built.ids());
    assert.deepEqual(loaded.searchBatch(queries, 6), built.searchBatch(queries, 6));
  });

  test('GIVEN an empty build THEN finish gives an empty index', async () => {
    const built = await buildIndexInWorker({ dimension: d }).finish();
    assert.equal(built.size(), 0);
    assert.deepEqual(built.search(queries[0] as Float32Array, 6), []);
  });

  test('GIVEN bad chunks THEN add rejects with INTERNAL; a chunk rejected by the worker fails the build', async () => {
    const builder = buildIndexInWorker({ dimension: d });
    await builder.add(ids.slice(0, 10), data.slice(0, 10));
    // checked on this thread: the chunk is refused and the build goes on
    await assert.rejects(builder.add([1, 2], [data[0] as Float32Array]), isCode('INTERNAL'));
    await assert.rejects(builder.add([ids[0] as number], [data[20] as Float32Array]), isCode('INTERNAL', /already/));
    await assert.rejects(builder.add([3], [new Float32Array(d - 1)]), isCode('INTERNAL', /length/));
    await assert.rejects(builder.add([1.5], [data[20] as Float32Array]), isCode('INTERNAL'));
    await builder.add(ids.slice(10, 20), data.slice(10, 20));
    // checked in the worker (values): this fails the whole build
    const nan = new Float32Array(d);
    nan[7] = Number.NaN;
    await assert.rejects(builder.add([4, 5], [data[30] as Float32Array, nan]), isCode('INTERNAL', /id 5 .*non-finite/));
    await assert.rejects(builder.add([6], [data[31] as Float32Array]), isCode('INTERNAL', /id 5/));
    await assert.rejects(builder.finish(), isCode('INTERNAL', /id 5/));
  });

  test('GIVEN abort() THEN the worker stops and the builder takes nothing more', async () => {
    const builder = buildIndexInWorker({ kind: 'hnsw', dimension: d });
    const pending = builder.add(ids.slice(0, 500), data.slice(0, 500));
    await builder.abort();
    await assert.rejects(pending, isCode('INTERNAL'));
    await assert.rejects(builder.add([1], [data[0] as Float32Array]), isCode('INTERNAL'));
    await assert.rejects(builder.finish(), isCode('INTERNAL'));
  });
});
