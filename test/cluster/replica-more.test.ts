/**
 * "More like this" on an answering replica, against a real private PostgreSQL and real FAISS:
 * `vectorOf(id)` reads an item's vector back from the in-memory index (flat and HNSW), follows
 * content changes, removals and relabels, and is undefined for unknown ids; searches leave out
 * excluded ids and out-of-stock items.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openReplicaCatalog, type ReplicaCatalog } from '@lookalike/cluster';
import { LookalikeError } from '@lookalike/core';
import { openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { until } from '../helpers/gate.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import {
  bruteForce,
  DIM,
  labelsOf,
  storedItem,
  storedItems,
  unitVector,
  WEIGHTS,
  writingReindexer,
} from './fixtures/replica-support.js';

let server: PgServer;
let cat: PgCatalog;
const open: ReplicaCatalog[] = [];

before(async () => {
  server = await startPostgres();
  cat = openPgCatalog(server.url);
  await cat.migrate();
});
after(async () => {
  for (const r of open) await r.close();
  await cat?.close();
  await server?.stop();
});

async function replicaOf(name: string, kind: 'flat' | 'hnsw'): Promise<ReplicaCatalog> {
  const r = await openReplicaCatalog({
    pg: cat,
    name,
    weights: WEIGHTS,
    dimension: DIM,
    imagesDir: '/srv/catalog',
    reindexer: writingReindexer(cat.store, name, () => []),
    index: { kind },
  });
  open.push(r);
  await until(() => r.status().following, 'the replica to follow');
  return r;
}

const same = (a: Float32Array | undefined, b: Float32Array) =>
  a !== undefined && a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);

for (const kind of ['flat', 'hnsw'] as const) {
  describe(`replica vectorOf (${kind})`, () => {
    test('GIVEN loaded items THEN vectorOf gives each one’s stored vector; unknown ids give undefined', async () => {
      const name = `more-${kind}`;
      await cat.store.upsertItems(name, storedItems('m', 20, 7000));
      const r = await replicaOf(name, kind);
      for (let i = 0; i < 20; i++) assert.ok(same(await r.vectorOf?.(`m${i}`), unitVector(7000 + i)), `m${i}`);
      assert.equal(await r.vectorOf?.('nope'), undefined);

      // More like m3: its vector, without m3 and an excluded chain.
      const v = (await r.vectorOf?.('m3'))!;
      const hits = r.search(v, { k: 5, exclude: ['m3', 'm4', 'm5'] });
      assert.equal(hits.length, 5);
      assert.ok(!hits.some((h) => ['m3', 'm4', 'm5'].includes(h.id)));

      // Followed changes: new content, a removal, a relabel that renames the shown id.
      await cat.store.upsertItems(name, [
        storedItem('img/m4.jpg', 'h-m4-v2', 7999, labelsOf(4), { expectedHash: 'h-m4' }),
      ]);
      await cat.store.removeItems(name, ['img/m9.jpg']);
      const relabel = await cat.store.relabelItems(name, [
        { sourceKey: 'img/m5.jpg', expectedHash: 'h-m5', metadata: { id: 'm5-renamed', labels: labelsOf(5) } },
      ]);
      await r.whenAt(relabel.version);
      assert.ok(same(await r.vectorOf?.('m4'), unitVector(7999)), 'the new vector');
      assert.equal(await r.vectorOf?.('m9'), undefined, 'removed');
      assert.equal(await r.vectorOf?.('m5'), undefined, 'renamed away');
      assert.ok(same(await r.vectorOf?.('m5-renamed'), unitVector(7005)));
    });
  });
}

describe('replica search', () => {
  test('GIVEN an out-of-stock item THEN it is hidden unless includeOutOfStock', async () => {
    const name = 'more-stock';
    await cat.store.upsertItems(name, [
      storedItem('img/s0.jpg', 'h-s0', 8000, { availability: 'out_of_stock', title: 'Gone' }),
      ...storedItems('t', 5, 8100),
    ]);
    const r = await replicaOf(name, 'flat');
    const v = (await r.vectorOf?.('s0'))!;
    assert.ok(!r.search(v, { k: 6, excludeDuplicates: false }).some((h) => h.id === 's0'));
    assert.equal(r.search(v, { k: 6, excludeDuplicates: false, includeOutOfStock: true })[0]?.id, 's0');
  });

  for (const kind of ['flat', 'hnsw'] as const) {
    test(`GIVEN filters, excluded ids and out-of-stock items (${kind}) THEN exactly the brute-force top-k of the allowed items`, async () => {
      const name = `more-filtered-${kind}`;
      const rows = storedItems('f', 60, 9000);
      // Every 4th item is out of stock.
      for (const [i, row] of rows.entries()) {
        if (i % 4 === 0) (row.metadata as { labels: Record<string, string> }).labels.availability = 'out_of_stock';
      }
      await cat.store.upsertItems(name, rows);
      const r = await replicaOf(name, kind);
      const items = rows.map((row, i) => ({
        id: `f${i}`,
        labels: { ...labelsOf(i), ...(i % 4 === 0 ? { availability: 'out_of_stock' } : {}) },
        vector: row.vector,
      }));
      for (const q of [3, 17, 42]) {
        const query = items[q]!.vector;
        const exclude = [`f${q + 3}`, `f${q + 6}`];
        const allowed = items.filter(
          (it) =>
            it.labels.articleType === 'Shirts' && it.labels.availability === undefined && !exclude.includes(it.id),
        );
        const want = bruteForce(query, allowed, 6).map((it) => it.id);
        const got = r.search(query, { k: 6, filters: { articletype: 'shirts' }, exclude }).map((h) => h.id);
        assert.deepEqual(got, want, `query f${q}`);
      }
    });
  }

  test('GIVEN index kind flat-sq8 THEN the replica refuses it with CONFIG_INVALID (no fp32 vectors to re-rank with)', async () => {
    await assert.rejects(
      openReplicaCatalog({
        pg: cat,
        name: 'more-sq8',
        weights: WEIGHTS,
        dimension: DIM,
        imagesDir: undefined,
        reindexer: writingReindexer(cat.store, 'more-sq8', () => []),
        index: { kind: 'flat-sq8' },
      }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'CONFIG_INVALID',
    );
  });
});
