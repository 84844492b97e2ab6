/**
 * The replica catalog against a real private PostgreSQL and real FAISS: the load (binary COPY of
 * one model's vectors, the metadata, the gap closed), search equal to brute force, and following
 * (issue test 4): adds, a content change and a removal reach a running replica incrementally,
 * without a reload; a late replica catches up; across a PostgreSQL restart it keeps answering
 * from memory and follows again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openReplicaCatalog, type ReplicaCatalog, type ReplicaCatalogOptions } from '@lookalike/cluster';
import { LookalikeError, type ReindexProgress } from '@lookalike/core';
import { type ItemInput, openPgCatalog, type PgCatalog, type StoredItem } from '@lookalike/pg';
import { until } from '../helpers/gate.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import {
  bruteForce,
  DIM,
  distance,
  labelsOf,
  MODEL,
  OTHER_WEIGHTS,
  spyPg,
  storedItem,
  storedItems,
  unitVector,
  WEIGHTS,
  writingReindexer,
} from './fixtures/replica-support.js';

const IMAGES = '/srv/catalog';

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

function options(name: string, pg: PgCatalog = cat, extra: Partial<ReplicaCatalogOptions> = {}): ReplicaCatalogOptions {
  return {
    pg,
    name,
    weights: WEIGHTS,
    dimension: DIM,
    imagesDir: IMAGES,
    reindexer: writingReindexer(pg.store, name, () => []),
    ...extra,
  };
}

async function replicaOf(name: string, pg: PgCatalog = cat, extra: Partial<ReplicaCatalogOptions> = {}) {
  const r = await openReplicaCatalog(options(name, pg, extra));
  open.push(r);
  return r;
}

/** The path a replica shows for a source key: under the images folder, or the URL itself. */
function pathFor(sourceKey: string): string {
  return /^https?:/.test(sourceKey) ? sourceKey : join(IMAGES, sourceKey);
}

/** What PostgreSQL holds for the model now: every live item with its vector. */
async function stored(name: string): Promise<StoredItem[]> {
  return (await cat.store.changesSince(name, 0, MODEL)).upserts;
}

/** The replica's items as comparable rows, by item id. */
function rowsOf(r: ReplicaCatalog) {
  return r
    .items()
    .map((it) => ({ itemId: it.itemId, id: it.id, path: it.path, metadata: it.metadata }))
    .sort((a, b) => a.itemId - b.itemId);
}

/** The rows PostgreSQL says a replica should hold. */
function expectedRows(items: StoredItem[]) {
  return items
    .map((it) => ({
      itemId: it.id,
      id: (it.metadata as { id: string }).id,
      path: pathFor(it.sourceKey),
      metadata: (it.metadata as { labels: Record<string, string> }).labels,
    }))
    .sort((a, b) => a.itemId - b.itemId);
}

/** Search results (no duplicates filter) equal brute force over what PostgreSQL holds. */
async function assertSearchMatches(r: ReplicaCatalog, name: string, seeds: number[]): Promise<void> {
  const items = await stored(name);
  for (const seed of seeds) {
    const q = unitVector(seed);
    const got = r.search(q, { k: 6 });
    const want = bruteForce(q, items, 6);
    assert.deepEqual(
      got.map((g) => g.path),
      want.map((w) => pathFor(w.sourceKey)),
      `query ${seed}`,
    );
    for (const [i, g] of got.entries()) {
      assert.ok(Math.abs(g.distance - distance(q, want[i]!.vector)) < 1e-4);
      assert.equal(g.rank, i + 1);
    }
  }
}

describe('load', () => {
  test('every live vector of the loaded model, with its metadata; search equals brute force', async () => {
    const s = cat.store;
    await s.upsertItems('load', storedItems('a', 50, 1000));
    // Another model's vectors are not this replica's; removed items are gone.
    await s.upsertItems('load', [
      storedItem('img/other.jpg', 'h-other', 5, labelsOf(0), { model: 'resnet50-gmp:ffff:fp32' }),
    ]);
    await s.removeItems('load', ['img/a3.jpg', 'img/a7.jpg']);
    // A feed item's source key is a URL: its path is the URL.
    await s.upsertItems('load', [storedItem('https://cdn.example/x/feed1.jpg', 'h-feed', 77, labelsOf(1))]);
    const spy = spyPg(cat);
    const r = await replicaOf('load', spy.pg);

    const items = await stored('load');
    assert.equal(items.length, 49);
    assert.equal(r.size(), 49);
    const version = await s.catalogVersion('load');
    await until(() => r.status().following, 'the replica to follow');
    assert.deepEqual(r.status(), { loaded: true, version, size: 49, following: true });
    const rows = rowsOf(r);
    const feed = rows.find((row) => row.id === 'feed1');
    assert.equal(feed?.path, 'https://cdn.example/x/feed1.jpg');
    assert.deepEqual(rows, expectedRows(items));
    assert.ok(!rows.some((row) => row.id === 'other' || row.id === 'a3' || row.id === 'a7'));
    assert.equal(spy.loads(), 1);

    // Queries: random ones, and an item's own vector (left out as an exact duplicate unless asked).
    await assertSearchMatches(r, 'load', [1, 2, 3, 4, 5]);
    const own = items.find((it) => it.sourceKey === 'img/a10.jpg')!;
    assert.ok(!r.search(own.vector, { k: 3 }).some((h) => h.id === 'a10'));
    const exact = r.search(own.vector, { k: 3, excludeDuplicates: false });
    assert.equal(exact[0]?.id, 'a10');
    assert.equal(exact[0]?.distance, 0);
    assert.equal(exact[0]?.similarity, 1);
    assert.deepEqual(exact[0]?.metadata, labelsOf(10));

    // Filters and facets over the labels.
    const shoes = r.search(unitVector(9), { k: 100, filters: { articletype: 'shoes' } });
    const shoeCount = rows.filter((row) => row.metadata.articleType === 'Shoes').length;
    assert.equal(shoes.length, shoeCount);
    assert.ok(shoes.every((h) => h.metadata.articleType === 'Shoes'));
    assert.deepEqual(new Set(r.facet('ARTICLETYPE')), new Set(['Shirts', 'Shoes', 'Watches']));
    assert.deepEqual(r.search(unitVector(9), { k: 0 }), []);
  });

  test('a query embedded with other weights is refused with INDEX_MODEL_MISMATCH', async () => {
    await cat.store.upsertItems('mismatch', storedItems('m', 5, 2000));
    const r = await replicaOf('mismatch');
    assert.throws(
      () => r.search(unitVector(1), { k: 3, weightsMd5: OTHER_WEIGHTS.md5 }),
      (err: unknown) =>
        err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH' && err.details.answering !== undefined,
    );
    assert.equal(r.search(unitVector(1), { k: 3, weightsMd5: WEIGHTS.md5 }).length, 3);
    assert.equal(r.answeringWeights?.(), WEIGHTS);
    assert.equal(r.migration?.(), null);
    assert.equal(r.weights, WEIGHTS);
  });

  test('an empty or never-written catalog loads empty and follows', async () => {
    const r = await replicaOf('never-written');
    assert.equal(r.size(), 0);
    assert.deepEqual(r.search(unitVector(1), { k: 3 }), []);
    assert.deepEqual(r.items(), []);
    assert.equal(r.status().version, 0);
    const { version } = await cat.store.upsertItems('never-written', storedItems('n', 3, 3000));
    await r.whenAt(version);
    assert.equal(r.size(), 3);
  });

  test('writes committed between the vector snapshot and the metadata read are caught up', async () => {
    const s = cat.store;
    await s.upsertItems('gap', storedItems('g', 20, 4000));
    const before = await stored('gap');
    const g1 = before.find((it) => it.sourceKey === 'img/g1.jpg')!;
    // Right after the COPY: one removed, one changed (new content and vector), one relabelled, one added.
    const spy = spyPg(cat, {
      afterLoad: async () => {
        await s.removeItems('gap', ['img/g0.jpg']);
        await s.upsertItems('gap', [
          storedItem('img/g1.jpg', 'h-g1-new', 4999, labelsOf(1), { expectedHash: g1.contentHash }),
          storedItem('img/new.jpg', 'h-new', 4998, labelsOf(2)),
        ]);
        await s.relabelItems('gap', [
          { sourceKey: 'img/g2.jpg', expectedHash: 'h-g2', metadata: { id: 'g2', labels: { articleType: 'Bags' } } },
        ]);
      },
    });
    const r = await replicaOf('gap', spy.pg);
    const items = await stored('gap');
    assert.equal(r.status().version, await s.catalogVersion('gap'));
    assert.deepEqual(rowsOf(r), expectedRows(items));
    assert.equal(r.size(), 20);
    assert.deepEqual(r.items().find((it) => it.id === 'g2')?.metadata, { articleType: 'Bags' });
    assert.equal(r.search(unitVector(4999), { k: 1, excludeDuplicates: false })[0]?.id, 'g1');
    await assertSearchMatches(r, 'gap', [11, 12, 13]);
  });

  test('PostgreSQL unreachable at open: DATABASE_UNAVAILABLE', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const down = openPgCatalog('postgres://postgres@127.0.0.1:1/postgres', { connectTimeoutMs: 5000 });
    try {
      await assert.rejects(
        openReplicaCatalog(options('down', down)),
        (err: unknown) => err instanceof LookalikeError && err.code === 'DATABASE_UNAVAILABLE',
      );
    } finally {
      await down.close();
    }
  });

  test('stored vectors of another dimension are refused with INDEX_CORRUPT', async () => {
    await cat.store.upsertItems('dims', [
      { ...storedItem('img/wide.jpg', 'h-wide', 1, labelsOf(0)), vector: new Float32Array(DIM * 2).fill(0.1) },
    ]);
    await assert.rejects(
      openReplicaCatalog(options('dims')),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_CORRUPT',
    );
  });
});

describe('following', () => {
  test('issue test 4: 10 adds, 1 change and 1 delete reach a running replica without a reload; a late replica catches up', async () => {
    const s = cat.store;
    const name = 'follow';
    await s.upsertItems(name, storedItems('f', 30, 5000));
    const spy = spyPg(cat);
    const r = await replicaOf(name, spy.pg);
    await until(() => r.status().following, 'the replica to follow');
    assert.equal(r.size(), 30);
    const before = await stored(name);
    const changed = before.find((it) => it.sourceKey === 'img/f4.jpg')!;
    const deleted = before.find((it) => it.sourceKey === 'img/f9.jpg')!;

    // Ten adds (one write per item: ten versions), one content change, one removal.
    for (const add of storedItems('new', 10, 6000)) await s.upsertItems(name, [add]);
    const newVector = unitVector(6999);
    await s.upsertItems(name, [
      storedItem('img/f4.jpg', 'h-f4-v2', 6999, { articleType: 'Bags' }, { expectedHash: changed.contentHash }),
    ]);
    const { version } = await s.removeItems(name, ['img/f9.jpg']);
    await r.whenAt(version);

    const items = await stored(name);
    assert.equal(items.length, 39);
    assert.equal(r.size(), 39);
    assert.equal(r.status().version, version);
    assert.deepEqual(rowsOf(r), expectedRows(items));
    // The changed item: its new vector finds it (same item id), its old one no longer does exactly.
    const hit = r.search(newVector, { k: 1, excludeDuplicates: false })[0];
    assert.equal(hit?.id, 'f4');
    assert.equal(hit?.distance, 0);
    assert.deepEqual(hit?.metadata, { articleType: 'Bags' });
    assert.equal(r.items().find((it) => it.id === 'f4')?.itemId, changed.id);
    const old = r.search(changed.vector, { k: 1, excludeDuplicates: false })[0];
    assert.ok(old !== undefined && old.distance > 1e-6);
    // The removed item is gone from results, items and facets' counts.
    assert.ok(!r.items().some((it) => it.itemId === deleted.id));
    assert.ok(!r.search(deleted.vector, { k: 39, excludeDuplicates: false }).some((h) => h.id === 'f9'));
    await assertSearchMatches(r, name, [21, 22, 23, 24]);
    assert.equal(spy.loads(), 1, 'never reloaded: every change applied incrementally');

    // A relabel reaches it too (same vector, new labels).
    const relabel = await s.relabelItems(name, [
      { sourceKey: 'img/f5.jpg', expectedHash: 'h-f5', metadata: { id: 'f5', labels: { articleType: 'Caps' } } },
    ]);
    await r.whenAt(relabel.version);
    assert.deepEqual(r.items().find((it) => it.id === 'f5')?.metadata, { articleType: 'Caps' });
    assert.deepEqual(r.search(unitVector(5005), { k: 1, excludeDuplicates: false })[0]?.metadata, {
      articleType: 'Caps',
    });

    // A replica started now holds the same.
    const late = await replicaOf(name);
    assert.equal(late.status().version, relabel.version);
    assert.deepEqual(rowsOf(late), rowsOf(r));
    for (const seed of [31, 32, 33]) {
      assert.deepEqual(late.search(unitVector(seed), { k: 8 }), r.search(unitVector(seed), { k: 8 }));
    }
    assert.equal(spy.loads(), 1);
  });

  test('a version announced while a catch-up is in flight is fetched next, not dropped', async () => {
    const s = cat.store;
    const name = 'in-flight';
    await s.upsertItems(name, storedItems('i', 5, 11_000));
    let later = 0;
    // The first catch-up has read its snapshot (version N); then N+1 commits and its NOTIFY reaches
    // the replica before that catch-up returns.
    const spy = spyPg(cat, {
      beforeChangesReturn: async (changes) => {
        later = (await s.upsertItems(name, [storedItem('img/later.jpg', 'h-later', 11_100, labelsOf(0))])).version;
        assert.equal(later, changes.version + 1);
        await until(() => spy.events.some((e) => e.version === later), 'the NOTIFY of the later write');
      },
    });
    const r = await replicaOf(name, spy.pg);
    await until(() => r.status().following, 'the replica to follow');
    const first = await s.upsertItems(name, [storedItem('img/first.jpg', 'h-first', 11_101, labelsOf(1))]);
    await until(() => later > 0, 'the later write');
    assert.equal(later, first.version + 1);
    await r.whenAt(later);
    assert.deepEqual(rowsOf(r), expectedRows(await stored(name)));
    assert.equal(r.size(), 7);
  });

  test('a burst of concurrent writers: the replica ends equal to what PostgreSQL holds', async () => {
    const s = cat.store;
    const name = 'burst';
    await s.upsertItems(name, storedItems('b', 10, 7000));
    const spy = spyPg(cat);
    const r = await replicaOf(name, spy.pg);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++)
      writes.push(s.upsertItems(name, [storedItem(`img/burst${i}.jpg`, `hb${i}`, 7100 + i, labelsOf(i))]));
    writes.push(s.removeItems(name, ['img/b0.jpg', 'img/b1.jpg']));
    await Promise.all(writes);
    await r.whenAt(await s.catalogVersion(name));
    assert.deepEqual(rowsOf(r), expectedRows(await stored(name)));
    assert.equal(r.size(), 28);
    assert.equal(spy.loads(), 1);
  });

  test('reindex() delegates to the reindexer and resolves once this replica reflects the run', async () => {
    const name = 'reindex';
    await cat.store.upsertItems(name, storedItems('r', 5, 8000));
    const rows: ItemInput[] = storedItems('added', 4, 8100);
    const reindexer = writingReindexer(cat.store, name, () => rows);
    const r = await replicaOf(name, cat, { reindexer });
    assert.equal(r.reindexProgress(), null);
    const seen: ReindexProgress[] = [];
    let during: ReindexProgress | null = null;
    const summary = await r.reindex((p) => {
      seen.push(p);
      during = r.reindexProgress();
    });
    assert.equal(summary.added, 4);
    assert.equal(seen.length, 1);
    assert.deepEqual(during, seen[0]);
    // No waiting: the summary's version is already searchable here.
    assert.ok(r.status().version >= summary.version);
    assert.equal(r.size(), 9);
    assert.equal(r.search(unitVector(8102), { k: 1, excludeDuplicates: false })[0]?.id, 'added2');
    assert.equal(r.reindexProgress(), null);
  });

  test('close() stops following: no handles left, search refused, whenAt rejects', async () => {
    const name = 'close';
    await cat.store.upsertItems(name, storedItems('c', 3, 9000));
    const r = await openReplicaCatalog(options(name));
    await until(() => r.status().following, 'the replica to follow');
    const pending = assert.rejects(
      r.whenAt(1000, 60_000),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INTERNAL',
    );
    await r.close();
    await r.close();
    await pending;
    assert.equal(r.status().following, false);
    assert.throws(
      () => r.search(unitVector(1), { k: 1 }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INTERNAL',
    );
    await assert.rejects(r.whenAt(1000, 10), (err: unknown) => err instanceof LookalikeError);
    // A version that was never reached times out with a clear error.
    const live = await replicaOf(name);
    await assert.rejects(live.whenAt(1000, 50), /did not reach catalog version 1000/);
  });

  // Last: it restarts the server under every other connection.
  test('a PostgreSQL restart: queries answer meanwhile, following goes false then true, later changes arrive', async () => {
    const name = 'restart';
    const logger = recordingLogger();
    const pg = openPgCatalog(server.url, { logger });
    try {
      await pg.store.upsertItems(name, storedItems('p', 20, 10_000));
      const spy = spyPg(pg);
      const r = await replicaOf(name, spy.pg, { logger });
      await until(() => r.status().following, 'the replica to follow');
      const q = unitVector(10_500);
      const answer = r.search(q, { k: 5 });
      assert.equal(answer.length, 5);

      // Sample the replica every few ms while the server goes down and comes back, until it has
      // been seen not following and then following again.
      const following: boolean[] = [];
      const offline: number[] = [];
      const sampler = (async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const f = r.status().following;
          following.push(f);
          if (!f) {
            // Answered from memory, exactly as before.
            assert.deepEqual(r.search(q, { k: 5 }), answer);
            offline.push(r.size());
          } else if (following.includes(false)) {
            return;
          }
          if (Date.now() > deadline) throw new Error('timed out waiting for following to go false, then true');
          await sleep(5);
        }
      })();
      await server.restart();
      // Written before the listener is back (most likely): caught up by its reconnect either way.
      const early = await pg.store.upsertItems(name, [storedItem('img/early.jpg', 'h-early', 10_900, labelsOf(0))]);
      await sampler;
      await logger.waitFor((e) => e.msg === 'catalog listener lost its connection; reconnecting');
      await logger.waitFor((e) => e.msg === 'catalog listener reconnected');
      const firstOff = following.indexOf(false);
      assert.ok(firstOff > 0, 'following was true, then false');
      assert.equal(following.at(-1), true, 'then true again');
      assert.ok(offline.length > 0 && offline.every((n) => n === 20), 'searches answered while not following');

      await r.whenAt(early.version);
      const late = await pg.store.upsertItems(name, [storedItem('img/late.jpg', 'h-late', 10_901, labelsOf(1))]);
      const gone = await pg.store.removeItems(name, ['img/p0.jpg']);
      await r.whenAt(gone.version);
      assert.ok(gone.version > late.version);
      assert.equal(r.size(), 21);
      assert.deepEqual(rowsOf(r), expectedRows(await stored(name)));
      assert.equal(r.search(unitVector(10_901), { k: 1, excludeDuplicates: false })[0]?.id, 'late');
      assert.equal(spy.loads(), 1, 'no reload after the restart');
    } finally {
      await pg.close();
    }
  });
});
