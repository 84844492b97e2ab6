/**
 * The store's scale-out additions against a real private PostgreSQL: listItems' metadata,
 * metadata-only relabels (stale guard, version + NOTIFY, seen by changesSince as upserts),
 * liveItems for a replica's load, and the running run of a catalog (resume) with its counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ItemInput, openPgCatalog, type PgCatalog, type VersionEvent } from '@lookalike/pg';
import { until } from '../helpers/gate.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { rng } from '../helpers/rng.js';

const MODEL = 'md5:0123456789abcdef0123456789abcdef/fp32';
const OTHER = 'md5:fedcba9876543210fedcba9876543210/fp32';

function vector(seed: number, d = 8): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: d }, () => next() * 2 - 1);
}

function item(key: string, hash: string, seed: number, extra: Partial<ItemInput> = {}): ItemInput {
  return {
    sourceKey: key,
    contentHash: hash,
    expectedHash: null,
    metadata: { id: key, labels: { title: `t-${key}` } },
    vector: vector(seed),
    model: MODEL,
    ...extra,
  };
}

let server: PgServer;
let cat: PgCatalog;
before(async () => {
  server = await startPostgres();
  cat = openPgCatalog(server.url);
  await cat.migrate();
});
after(async () => {
  await cat?.close();
  await server?.stop();
});

describe('items', () => {
  test('listItems returns each live item with its metadata and whether the model embedded it', async () => {
    const s = cat.store;
    await s.upsertItems('list', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2)]);
    await s.upsertItems('list', [item('c.jpg', 'hc', 3, { model: OTHER })]);
    await s.upsertItems('list', [item('d.jpg', 'hd', 4)]);
    await s.removeItems('list', ['d.jpg']);
    assert.deepEqual(await s.listItems('list', MODEL), [
      {
        sourceKey: 'a.jpg',
        contentHash: 'ha',
        metadata: { id: 'a.jpg', labels: { title: 't-a.jpg' } },
        embedded: true,
      },
      {
        sourceKey: 'b.jpg',
        contentHash: 'hb',
        metadata: { id: 'b.jpg', labels: { title: 't-b.jpg' } },
        embedded: true,
      },
      {
        sourceKey: 'c.jpg',
        contentHash: 'hc',
        metadata: { id: 'c.jpg', labels: { title: 't-c.jpg' } },
        embedded: false,
      },
    ]);
  });

  test('relabelItems changes only the metadata of items still holding the expected content', async () => {
    const s = cat.store;
    const v0 = (
      await s.upsertItems('relabel', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2), item('c.jpg', 'hc', 3)])
    ).version;
    await s.removeItems('relabel', ['c.jpg']);
    const v1 = await s.catalogVersion('relabel');
    const before = await s.changesSince('relabel', 0, MODEL);
    const ids = new Map(before.upserts.map((u) => [u.sourceKey, u.id]));
    assert.ok(v1 > v0);

    const result = await s.relabelItems('relabel', [
      { sourceKey: 'a.jpg', expectedHash: 'ha', metadata: { id: 'a.jpg', labels: { title: 'new a' } } },
      // Stale: b now holds other content than the planner saw.
      { sourceKey: 'b.jpg', expectedHash: 'old-hb', metadata: { id: 'b.jpg', labels: { title: 'new b' } } },
      // Removed: not revived by a relabel.
      { sourceKey: 'c.jpg', expectedHash: 'hc', metadata: { id: 'c.jpg', labels: { title: 'new c' } } },
      // Never there.
      { sourceKey: 'z.jpg', expectedHash: 'hz', metadata: { id: 'z.jpg', labels: {} } },
    ]);
    assert.deepEqual(result, { version: v1 + 1, changed: 1 });

    // The replica's view: one upsert, the same id, the same vector, the new metadata.
    const changes = await s.changesSince('relabel', v1, MODEL);
    assert.equal(changes.version, v1 + 1);
    assert.deepEqual(changes.removals, []);
    assert.equal(changes.upserts.length, 1);
    const a = changes.upserts[0]!;
    assert.equal(a.id, ids.get('a.jpg'));
    assert.equal(a.contentHash, 'ha');
    assert.deepEqual(a.metadata, { id: 'a.jpg', labels: { title: 'new a' } });
    assert.deepEqual([...a.vector], [...vector(1)]);
    assert.equal(a.version, v1 + 1);

    const listed = await s.listItems('relabel', MODEL);
    assert.deepEqual(
      listed.map((l) => [l.sourceKey, l.metadata]),
      [
        ['a.jpg', { id: 'a.jpg', labels: { title: 'new a' } }],
        ['b.jpg', { id: 'b.jpg', labels: { title: 't-b.jpg' } }],
      ],
    );
    assert.ok(listed.every((l) => l.embedded));

    // The same metadata again (a retried relabel): nothing changes, the version stays.
    assert.deepEqual(
      await s.relabelItems('relabel', [
        { sourceKey: 'a.jpg', expectedHash: 'ha', metadata: { labels: { title: 'new a' }, id: 'a.jpg' } },
      ]),
      { version: v1 + 1, changed: 0 },
    );
    assert.deepEqual(await s.relabelItems('relabel', []), { version: v1 + 1, changed: 0 });
  });

  test('a relabel notifies listeners with its version', async () => {
    const s = cat.store;
    await s.upsertItems('notify', [item('a.jpg', 'ha', 1)]);
    const events: VersionEvent[] = [];
    const listener = s.listen((e) => void events.push(e), { catalog: 'notify' });
    try {
      await listener.ready;
      const { version } = await s.relabelItems('notify', [
        { sourceKey: 'a.jpg', expectedHash: 'ha', metadata: { id: 'a.jpg', labels: { title: 'x' } } },
      ]);
      await until(() => events.some((e) => e.reason === 'notify' && e.version === version), 'the relabel notification');
    } finally {
      await listener.close();
    }
  });

  test('a relabel of many rows (several statements) is one version', async () => {
    const s = cat.store;
    const rows = Array.from({ length: 1200 }, (_, i) => item(`k${i}.jpg`, `h${i}`, i));
    const { version } = await s.upsertItems('many', rows);
    const result = await s.relabelItems(
      'many',
      rows.map((r, i) => ({
        sourceKey: r.sourceKey,
        expectedHash: r.contentHash,
        metadata: { id: r.sourceKey, n: i },
      })),
    );
    assert.deepEqual(result, { version: version + 1, changed: 1200 });
    const live = await s.liveItems('many');
    assert.equal(live.length, 1200);
    assert.ok(live.every((l) => l.version === version + 1));
  });

  test('liveItems lists the live items with ids, metadata and versions, in id order', async () => {
    const s = cat.store;
    assert.deepEqual(await s.liveItems('live'), []);
    await s.upsertItems('live', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2)]);
    const v2 = (await s.upsertItems('live', [item('c.jpg', 'hc', 3, { model: OTHER })])).version;
    await s.removeItems('live', ['b.jpg']);
    const changes = await s.changesSince('live', 0, MODEL);
    const ids = new Map([...changes.upserts, ...changes.removals].map((u) => [u.sourceKey, u.id]));
    const live = await s.liveItems('live');
    assert.deepEqual(live, [
      { id: ids.get('a.jpg'), sourceKey: 'a.jpg', metadata: { id: 'a.jpg', labels: { title: 't-a.jpg' } }, version: 1 },
      // Whatever model embedded it: a replica joins these to the vectors it loaded.
      {
        id: ids.get('c.jpg'),
        sourceKey: 'c.jpg',
        metadata: { id: 'c.jpg', labels: { title: 't-c.jpg' } },
        version: v2,
      },
    ]);
    assert.ok(live[0]!.id < live[1]!.id);
    assert.deepEqual(await s.liveItems('no-such-catalog'), []);
  });
});

describe('runs', () => {
  test('runningRun is the newest running run of the catalog; updateRunCounts records progress', async () => {
    const s = cat.store;
    assert.equal(await s.runningRun('runs'), undefined);
    const first = await s.startRun('runs');
    const second = await s.startRun('runs');
    const elsewhere = await s.startRun('other-runs');
    assert.equal((await s.runningRun('runs'))?.id, second);
    assert.equal((await s.runningRun('other-runs'))?.id, elsewhere);

    await s.updateRunCounts(second, { embedded: 4, failed: 1 });
    const running = await s.runningRun('runs');
    assert.equal(running?.status, 'running');
    assert.deepEqual(running?.counts, { embedded: 4, failed: 1 });
    assert.equal(running?.finishedAt, undefined);
    assert.equal(running?.catalog, 'runs');

    await s.finishRun(second, 'done', { embedded: 9 });
    assert.equal((await s.runningRun('runs'))?.id, first, 'the older run still running');
    // A finished run's counts are not overwritten by a late progress write.
    await s.updateRunCounts(second, { embedded: 5 });
    assert.deepEqual((await s.getRun(second))?.counts, { embedded: 9 });

    await s.finishRun(first, 'cancelled', {});
    assert.equal(await s.runningRun('runs'), undefined);
  });
});
