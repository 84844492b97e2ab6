/**
 * @lookalike/pg against a real private PostgreSQL (test/helpers/pg-server.ts): concurrent
 * migrations, versioned upserts/removals and `changesSince`, binary-COPY vector loads (bit-exact),
 * and LISTEN/NOTIFY with reconnects (a killed backend, a server restart).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LookalikeError } from '@lookalike/core';
import { type ItemInput, openPgCatalog, type PgCatalog, type VectorChunk, type VersionEvent } from '@lookalike/pg';
import pg from 'pg';
import { until } from '../helpers/gate.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { rng } from '../helpers/rng.js';

const MODEL = 'md5:0123456789abcdef0123456789abcdef/fp32';

let server: PgServer;
/** A fresh database on the private server, so each part starts from an empty schema. */
async function database(name: string): Promise<string> {
  const admin = new pg.Client(server.url);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

function vector(seed: number, d = 8): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: d }, () => next() * 2 - 1);
}

/** An item as a job writes it; `expectedHash` defaults to null (the plan saw no live item). */
function item(key: string, hash: string, seed: number, extra: Partial<ItemInput> = {}): ItemInput {
  return {
    sourceKey: key,
    contentHash: hash,
    expectedHash: null,
    metadata: { id: key, title: `t-${key}` },
    vector: vector(seed),
    model: MODEL,
    ...extra,
  };
}

/** Bit-for-bit equality of two float arrays (NaN payloads and -0 included). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

describe('migrations', () => {
  test('openPgCatalog refuses a URL that is not postgres://', () => {
    for (const url of ['redis://127.0.0.1:6379', 'not a url']) {
      assert.throws(
        () => openPgCatalog(url),
        (err: unknown) => err instanceof LookalikeError && err.code === 'CONFIG_INVALID',
      );
    }
  });

  test('run twice concurrently (two pools) without error, each applied once', async () => {
    const url = await database('migrations');
    const a = openPgCatalog(url);
    const b = openPgCatalog(url);
    try {
      const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
      assert.deepEqual([...ra, ...rb].sort(), [1, 2], 'migrations 1 and 2 applied by exactly one of the two');
      const rows = await a.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.rows.map((r) => r.version),
        [1, 2],
      );
      // Again, concurrently, on a current schema: nothing to do, no error.
      assert.deepEqual(await Promise.all([a.migrate(), b.migrate()]), [[], []]);
      const storage = await a.pool.query<{ attstorage: string }>(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 'vectors'::regclass AND attname = 'vector'",
      );
      assert.equal(storage.rows[0]?.attstorage, 'e', 'vector column is SET STORAGE EXTERNAL');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('store', () => {
  let cat: PgCatalog;
  before(async () => {
    cat = openPgCatalog(await database('store'));
    await cat.migrate();
  });
  after(async () => {
    await cat?.close();
  });

  test('upserts and removals bump the version; changesSince returns exactly those changes', async () => {
    const s = cat.store;
    assert.equal(await s.catalogVersion('shop'), 0);
    assert.deepEqual(await s.changesSince('shop', 0, MODEL), { since: 0, version: 0, upserts: [], removals: [] });

    const first = await s.upsertItems('shop', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2), item('c.jpg', 'hc', 3)]);
    assert.deepEqual(first, { version: 1, changed: 3, stale: [] });
    const c1 = await s.changesSince('shop', 0, MODEL);
    assert.equal(c1.version, 1);
    assert.deepEqual(c1.upserts.map((u) => u.sourceKey).sort(), ['a.jpg', 'b.jpg', 'c.jpg']);
    assert.deepEqual(c1.removals, []);
    const a = c1.upserts.find((u) => u.sourceKey === 'a.jpg')!;
    assert.ok(sameBits(a.vector, vector(1)));
    assert.deepEqual(a.metadata, { id: 'a.jpg', title: 't-a.jpg' });
    assert.equal(a.version, 1);
    const ids = new Map(c1.upserts.map((u) => [u.sourceKey, u.id]));

    // Writing the same rows again (a retried job) changes nothing and bumps nothing.
    assert.deepEqual(await s.upsertItems('shop', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2)]), {
      version: 1,
      changed: 0,
      stale: [],
    });

    // One changed item, one new one.
    const second = await s.upsertItems('shop', [
      item('a.jpg', 'ha', 1),
      item('b.jpg', 'hb2', 22, { expectedHash: 'hb' }),
      item('d.jpg', 'hd', 4),
    ]);
    assert.deepEqual(second, { version: 2, changed: 2, stale: [] });
    const c2 = await s.changesSince('shop', 1, MODEL);
    assert.equal(c2.version, 2);
    assert.deepEqual(c2.upserts.map((u) => [u.sourceKey, u.contentHash, u.version]).sort(), [
      ['b.jpg', 'hb2', 2],
      ['d.jpg', 'hd', 2],
    ]);
    assert.equal(c2.upserts.find((u) => u.sourceKey === 'b.jpg')!.id, ids.get('b.jpg'), 'the id survives a change');
    assert.ok(sameBits(c2.upserts.find((u) => u.sourceKey === 'b.jpg')!.vector, vector(22)));
    assert.deepEqual(c2.removals, []);

    // A removal (and an unknown key, ignored).
    assert.deepEqual(await s.removeItems('shop', ['c.jpg', 'nope.jpg']), { version: 3, changed: 1 });
    const c3 = await s.changesSince('shop', 2, MODEL);
    assert.deepEqual(c3.upserts, []);
    assert.deepEqual(c3.removals, [{ id: ids.get('c.jpg'), sourceKey: 'c.jpg', version: 3 }]);
    assert.deepEqual(await s.removeItems('shop', ['c.jpg']), { version: 3, changed: 0 }, 'already removed');

    // A removed item comes back with its id.
    assert.deepEqual(await s.upsertItems('shop', [item('c.jpg', 'hc', 3)]), { version: 4, changed: 1, stale: [] });
    const c4 = await s.changesSince('shop', 3, MODEL);
    assert.deepEqual(
      c4.upserts.map((u) => [u.sourceKey, u.id]),
      [['c.jpg', ids.get('c.jpg')]],
    );

    // From 0: the current state only, each item once.
    const all = await s.changesSince('shop', 0, MODEL);
    assert.equal(all.version, 4);
    assert.deepEqual(all.upserts.map((u) => u.sourceKey).sort(), ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']);
    assert.deepEqual(all.removals, []);
    assert.deepEqual(await s.changesSince('shop', 4, MODEL), { since: 4, version: 4, upserts: [], removals: [] });

    // Another catalog has its own version.
    assert.deepEqual(await s.upsertItems('other', [item('a.jpg', 'x', 9)]), { version: 1, changed: 1, stale: [] });
    assert.equal(await s.catalogVersion('shop'), 4);
    assert.deepEqual((await s.changesSince('shop', 4, MODEL)).upserts, []);
  });

  test('concurrent writers of one catalog get one version each, in commit order', async () => {
    const s = cat.store;
    const start = await s.catalogVersion('shop');
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => s.upsertItems('shop', [item(`w${i}.jpg`, `hw${i}`, 100 + i)])),
    );
    assert.deepEqual(
      results.map((r) => r.version).sort((x, y) => x - y),
      [1, 2, 3, 4, 5].map((i) => start + i),
    );
    const changes = await s.changesSince('shop', start, MODEL);
    assert.equal(changes.version, start + 5);
    for (const r of results) {
      const sinceBefore = await s.changesSince('shop', r.version - 1, MODEL);
      assert.ok(
        sinceBefore.upserts.some((u) => u.version === r.version),
        `version ${r.version} has its row`,
      );
    }
  });

  test('a failed write leaves the version and the rows as they were', async () => {
    const s = cat.store;
    const before = await s.catalogVersion('shop');
    // PostgreSQL refuses a \u0000 in jsonb text: the second row aborts the whole transaction.
    await assert.rejects(
      s.upsertItems('shop', [item('e.jpg', 'he', 5), item('f.jpg', 'hf', 6, { metadata: { bad: '\u0000' } })]),
    );
    assert.equal(await s.catalogVersion('shop'), before);
    assert.deepEqual((await s.changesSince('shop', before, MODEL)).upserts, []);
  });

  test('failures count attempts and are cleared when the item is written; runs record their counts', async () => {
    const s = cat.store;
    await s.recordFailure('shop', {
      sourceKey: 'bad.jpg',
      contentHash: 'h',
      code: 'IMAGE_DECODE_FAILED',
      message: 'x',
    });
    await s.recordFailure('shop', {
      sourceKey: 'bad.jpg',
      contentHash: 'h',
      code: 'IMAGE_DECODE_FAILED',
      message: 'y',
    });
    assert.deepEqual(await s.failures('shop'), [
      { sourceKey: 'bad.jpg', contentHash: 'h', code: 'IMAGE_DECODE_FAILED', message: 'y', attempts: 2 },
    ]);
    await s.upsertItems('shop', [item('bad.jpg', 'h2', 7)]);
    assert.deepEqual(await s.failures('shop'), []);

    const id = await s.startRun('shop');
    assert.equal((await s.getRun(id))?.status, 'running');
    await s.finishRun(id, 'done', { added: 3, failed: 1 });
    const run = await s.getRun(id);
    assert.equal(run?.status, 'done');
    assert.deepEqual(run?.counts, { added: 3, failed: 1 });
    assert.ok(run?.finishedAt instanceof Date);
    assert.equal(await s.getRun(id + 1000), undefined);
  });

  test('loadVectors streams 2,000 × 2048 vectors bit-exact, in chunks, from one snapshot', async () => {
    const s = cat.store;
    const n = 2000;
    const d = 2048;
    const next = rng(42);
    const expected = new Map<string, Float32Array>();
    const rows: ItemInput[] = [];
    for (let i = 0; i < n; i++) {
      const v = new Float32Array(d);
      for (let j = 0; j < d; j++) v[j] = (next() - 0.5) * 1e3;
      if (i === 0) {
        // Odd values must survive too.
        v[0] = -0;
        v[1] = Number.NaN;
        v[2] = Number.POSITIVE_INFINITY;
        v[3] = 1.401298464324817e-45;
      }
      expected.set(`p${i}.jpg`, v);
      rows.push({
        sourceKey: `p${i}.jpg`,
        contentHash: `h${i}`,
        expectedHash: null,
        metadata: { i },
        vector: v,
        model: MODEL,
      });
    }
    // Written in a few batches, as workers would.
    for (let i = 0; i < n; i += 500) await s.upsertItems('big', rows.slice(i, i + 500));
    // Neither a tombstone nor another model's vectors are loaded.
    await s.removeItems('big', ['p7.jpg']);
    expected.delete('p7.jpg');
    await s.upsertItems('big', [
      {
        sourceKey: 'q.jpg',
        contentHash: 'q',
        expectedHash: null,
        metadata: {},
        vector: vector(5, d),
        model: 'other/fp16',
      },
    ]);
    const version = await s.catalogVersion('big');

    const byId = new Map<number, string>();
    for (const u of (await s.changesSince('big', 0, MODEL)).upserts) byId.set(u.id, u.sourceKey);

    const chunks: VectorChunk[] = [];
    const result = await s.loadVectors(
      'big',
      MODEL,
      async (chunk) => {
        chunks.push(chunk);
        await new Promise((r) => setImmediate(r));
      },
      { chunkBytes: 1024 * 1024 },
    );
    assert.deepEqual(result, { version, rows: n - 1, dimension: d });
    assert.ok(chunks.length > 1, 'more than one chunk');
    assert.ok(chunks.every((c) => c.dimension === d && c.vectors.length === c.count * d && c.ids.length === c.count));
    assert.ok(
      chunks.slice(0, -1).every((c) => c.count === 128),
      '1 MiB chunks of 2048-d vectors hold 128 rows',
    );
    let seen = 0;
    for (const c of chunks) {
      for (let r = 0; r < c.count; r++) {
        const key = byId.get(c.ids[r]!);
        assert.ok(key !== undefined, `id ${c.ids[r]} is an item`);
        const want = expected.get(key);
        assert.ok(want !== undefined, `${key} is a live item of the model`);
        assert.ok(sameBits(c.vectors.subarray(r * d, (r + 1) * d), want), `${key} bit-exact`);
        expected.delete(key);
        seen++;
      }
    }
    assert.equal(seen, n - 1);
    assert.equal(expected.size, 0);

    const none = await s.loadVectors('big', 'unknown-model', () => assert.fail('no chunk expected'));
    assert.deepEqual(none, { version, rows: 0, dimension: undefined });
  });

  test('vectors are kept per model: a re-embed under a new model leaves the old model and its replicas alone', async () => {
    const s = cat.store;
    const NEW = 'md5:fedcba9876543210fedcba9876543210/fp16';
    await s.upsertItems('models', [item('a.jpg', 'ha', 1), item('b.jpg', 'hb', 2), item('c.jpg', 'hc', 3)]);
    const v1 = await s.catalogVersion('models');

    // The new model's re-embed: the same content (the plan saw each hash), another vector.
    const reembed = await s.upsertItems('models', [
      item('a.jpg', 'ha', 11, { model: NEW, expectedHash: 'ha' }),
      item('b.jpg', 'hb', 12, { model: NEW, expectedHash: 'hb' }),
    ]);
    assert.deepEqual(reembed, { version: v1 + 1, changed: 2, stale: [] });
    assert.deepEqual(
      await s.changesSince('models', v1, MODEL),
      { since: v1, version: v1 + 1, upserts: [], removals: [] },
      'the old model sees nothing of the re-embed',
    );
    const old = await s.changesSince('models', 0, MODEL);
    assert.deepEqual(old.upserts.map((u) => u.sourceKey).sort(), ['a.jpg', 'b.jpg', 'c.jpg']);
    for (const [key, seed] of [
      ['a.jpg', 1],
      ['b.jpg', 2],
      ['c.jpg', 3],
    ] as const) {
      assert.ok(sameBits(old.upserts.find((u) => u.sourceKey === key)!.vector, vector(seed)), `${key}: the old vector`);
    }
    const fresh = await s.changesSince('models', v1, NEW);
    assert.deepEqual(fresh.upserts.map((u) => [u.sourceKey, u.version]).sort(), [
      ['a.jpg', v1 + 1],
      ['b.jpg', v1 + 1],
    ]);
    assert.ok(sameBits(fresh.upserts.find((u) => u.sourceKey === 'a.jpg')!.vector, vector(11)));
    const loaded = async (model: string) => {
      const got = new Map<number, Float32Array>();
      await s.loadVectors('models', model, (c) => {
        for (let r = 0; r < c.count; r++) got.set(c.ids[r]!, c.vectors.slice(r * c.dimension, (r + 1) * c.dimension));
      });
      return got;
    };
    const ids = new Map(old.upserts.map((u) => [u.sourceKey, u.id]));
    const oldLoad = await loaded(MODEL);
    assert.equal(oldLoad.size, 3);
    assert.ok(
      sameBits(oldLoad.get(ids.get('a.jpg')!)!, vector(1)),
      'a replica of the old model still loads its vectors',
    );
    const newLoad = await loaded(NEW);
    assert.deepEqual([...newLoad.keys()].sort(), [ids.get('a.jpg'), ids.get('b.jpg')].sort());
    assert.ok(sameBits(newLoad.get(ids.get('b.jpg')!)!, vector(12)));
    assert.deepEqual(
      (await s.listItems('models', NEW)).map(({ sourceKey, contentHash, embedded }) => ({
        sourceKey,
        contentHash,
        embedded,
      })),
      [
        { sourceKey: 'a.jpg', contentHash: 'ha', embedded: true },
        { sourceKey: 'b.jpg', contentHash: 'hb', embedded: true },
        { sourceKey: 'c.jpg', contentHash: 'hc', embedded: false },
      ],
    );

    // A content change under the new model: the old model's vector of the old content goes.
    const v3 = (await s.upsertItems('models', [item('c.jpg', 'hc2', 13, { model: NEW, expectedHash: 'hc' })])).version;
    const oldSees = await s.changesSince('models', v1 + 1, MODEL);
    assert.deepEqual(oldSees.upserts, []);
    assert.deepEqual(oldSees.removals, [{ id: ids.get('c.jpg'), sourceKey: 'c.jpg', version: v3 }]);
    const newSees = await s.changesSince('models', v1 + 1, NEW);
    assert.deepEqual(
      newSees.upserts.map((u) => [u.sourceKey, u.contentHash, u.id]),
      [['c.jpg', 'hc2', ids.get('c.jpg')]],
    );
    assert.equal((await loaded(MODEL)).size, 2);
    assert.deepEqual(
      (await s.listItems('models', MODEL)).map((i) => [i.sourceKey, i.embedded]),
      [
        ['a.jpg', true],
        ['b.jpg', true],
        ['c.jpg', false],
      ],
    );

    // A metadata change reaches every model's replicas, each with its own vector.
    const v4 = (
      await s.upsertItems('models', [
        item('a.jpg', 'ha', 11, { model: NEW, expectedHash: 'ha', metadata: { id: 'a.jpg', title: 'renamed' } }),
      ])
    ).version;
    for (const [model, seed] of [
      [MODEL, 1],
      [NEW, 11],
    ] as const) {
      const c = await s.changesSince('models', v3, model);
      assert.deepEqual(
        c.upserts.map((u) => [u.sourceKey, u.metadata.title, u.version]),
        [['a.jpg', 'renamed', v4]],
      );
      assert.ok(sameBits(c.upserts[0]!.vector, vector(seed)), `${model}: its own vector`);
    }

    // A removal drops every model's vector.
    await s.removeItems('models', ['a.jpg']);
    assert.equal((await loaded(MODEL)).size, 1);
    assert.equal((await loaded(NEW)).size, 2);
    const gone = await s.changesSince('models', v4, NEW);
    assert.deepEqual(
      gone.removals.map((r) => r.sourceKey),
      ['a.jpg'],
    );
  });

  test('a late job for older content is skipped as stale; the row keeps the newer content', async () => {
    const s = cat.store;
    await s.upsertItems('stale', [item('x.jpg', 'h0', 1)]);
    await s.recordFailure('stale', {
      sourceKey: 'x.jpg',
      contentHash: 'h1',
      code: 'IMAGE_DECODE_FAILED',
      message: 'x',
    });
    // Two scans planned jobs while x.jpg was at h0: v1's (h1), then v2's (h2). v2's lands first.
    const v2 = await s.upsertItems('stale', [item('x.jpg', 'h2', 3, { expectedHash: 'h0' })]);
    assert.deepEqual(v2.stale, []);
    assert.equal(v2.changed, 1);
    const late = await s.upsertItems('stale', [item('x.jpg', 'h1', 2, { expectedHash: 'h0' }), item('y.jpg', 'hy', 4)]);
    assert.deepEqual(late, { version: v2.version + 1, changed: 1, stale: [{ sourceKey: 'x.jpg', contentHash: 'h2' }] });
    const all = await s.changesSince('stale', 0, MODEL);
    const x = all.upserts.find((u) => u.sourceKey === 'x.jpg')!;
    assert.equal(x.contentHash, 'h2', 'the row keeps v2');
    assert.ok(sameBits(x.vector, vector(3)), 'and v2’s vector');
    assert.equal(x.version, v2.version);

    // Two jobs both planned for a new item: the later insert is stale.
    const again = await s.upsertItems('stale', [item('y.jpg', 'hy-old', 5)]);
    assert.deepEqual(again, { version: late.version, changed: 0, stale: [{ sourceKey: 'y.jpg', contentHash: 'hy' }] });

    // A job for an item removed since its plan is stale; one planned after the removal revives it.
    await s.removeItems('stale', ['y.jpg']);
    const removed = await s.upsertItems('stale', [item('y.jpg', 'hy2', 6, { expectedHash: 'hy' })]);
    assert.deepEqual(removed.stale, [{ sourceKey: 'y.jpg', contentHash: null }]);
    assert.equal(removed.changed, 0);
    const revived = await s.upsertItems('stale', [item('y.jpg', 'hy2', 6)]);
    assert.deepEqual([revived.changed, revived.stale], [1, []]);

    // A retried job whose write already committed is unchanged, not stale.
    const retry = await s.upsertItems('stale', [item('x.jpg', 'h2', 3, { expectedHash: 'h0' })]);
    assert.deepEqual(retry, { version: revived.version, changed: 0, stale: [] });
    assert.deepEqual(await s.failures('stale'), [], 'the written item’s failure is cleared');
    assert.deepEqual(
      (await s.listItems('stale', MODEL)).map((i) => [i.sourceKey, i.contentHash]),
      [
        ['x.jpg', 'h2'],
        ['y.jpg', 'hy2'],
      ],
    );
  });
});

describe('a failed load', () => {
  // One connection: a load that leaked it would leave nothing for the next query.
  let cat: PgCatalog;
  const d = 1024;
  const n = 500;
  before(async () => {
    cat = openPgCatalog(await database('failing'), { maxConnections: 1 });
    await cat.migrate();
    const rows: ItemInput[] = [];
    for (let i = 0; i < n; i++) rows.push(item(`r${i}.jpg`, `h${i}`, i, { vector: vector(i, d) }));
    await cat.store.upsertItems('c', rows);
  });
  after(async () => {
    await cat?.close();
  });

  // 2 MB of vectors: the COPY is still streaming when the load fails. (The timeout only stops a hang.)
  test('an onChunk that throws rejects the load with its error and frees the connection', {
    timeout: 120_000,
  }, async () => {
    const boom = new Error('the index is full');
    let calls = 0;
    await assert.rejects(
      cat.store.loadVectors(
        'c',
        MODEL,
        () => {
          calls++;
          throw boom;
        },
        { chunkBytes: 64 * 1024 },
      ),
      (err: unknown) => err === boom,
    );
    assert.equal(calls, 1);
    assert.equal(await cat.ping(), true, 'the one pooled connection answers');
    assert.equal((await cat.store.loadVectors('c', MODEL, () => {})).rows, n, 'and loads again');
  });

  test('data the decoder refuses (INDEX_CORRUPT) frees the connection too', { timeout: 120_000 }, async () => {
    // A last row of another dimension fails the decoder deep into the stream.
    await cat.store.upsertItems('c', [item('odd.jpg', 'ho', 1, { vector: vector(1, 16) })]);
    let rows = 0;
    await assert.rejects(
      cat.store.loadVectors(
        'c',
        MODEL,
        (chunk) => {
          rows += chunk.count;
        },
        { chunkBytes: 64 * 1024 },
      ),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_CORRUPT',
    );
    assert.ok(rows > 0 && rows < n, 'it failed midway');
    assert.equal(await cat.ping(), true);
    await cat.store.removeItems('c', ['odd.jpg']);
    assert.equal((await cat.store.loadVectors('c', MODEL, () => {})).rows, n);
  });
});

describe('listen', () => {
  let cat: PgCatalog;
  before(async () => {
    cat = openPgCatalog(await database('listen'));
    await cat.migrate();
  });
  after(async () => {
    await cat?.close();
  });

  /** Retries a write while the server comes back after a restart (pooled clients may be dead). */
  async function write(key: string, seed: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await cat.store.upsertItems('live', [item(key, `h${seed}`, seed)])).version;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  test('versions reach an async handler one call at a time, in the order they came', async () => {
    const c = openPgCatalog(await database('serial'));
    try {
      await c.migrate();
      await c.store.upsertItems('a', [item('1.jpg', 'h1', 1)]);
      await c.store.upsertItems('b', [item('1.jpg', 'h1', 1)]);
      await c.store.upsertItems('b', [item('2.jpg', 'h2', 2)]);
      const log: string[] = [];
      let active = 0;
      let overlapped = false;
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      // Every catalog: the connect reports a@1 and b@2 at once; the first call is held at the gate.
      const listener = c.store.listen(async (e) => {
        active++;
        if (active > 1) overlapped = true;
        log.push(`start ${e.catalog}@${e.version}`);
        if (log.length === 1) await gate;
        else await new Promise((r) => setImmediate(r));
        log.push(`end ${e.catalog}@${e.version}`);
        active--;
      });
      try {
        await listener.ready;
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(log, ['start a@1'], 'the second report waits for the first call');
        // Notifications that arrive meanwhile wait too.
        const v2 = (await c.store.upsertItems('a', [item('2.jpg', 'h2', 2)])).version;
        const v3 = (await c.store.upsertItems('a', [item('3.jpg', 'h3', 3)])).version;
        release();
        await until(() => log.includes(`end a@${v3}`), 'the last notification');
        assert.equal(overlapped, false, 'no two calls at once');
        assert.deepEqual(log, [
          'start a@1',
          'end a@1',
          'start b@2',
          'end b@2',
          `start a@${v2}`,
          `end a@${v2}`,
          `start a@${v3}`,
          `end a@${v3}`,
        ]);
      } finally {
        await listener.close();
      }
    } finally {
      await c.close();
    }
  });

  test('a NOTIFY reaches a listener; after a lost connection or a server restart it reconnects and reports the version', async () => {
    await cat.store.upsertItems('live', [item('a.jpg', 'h0', 0)]);
    const events: VersionEvent[] = [];
    const listener = cat.store.listen((e) => void events.push(e), { catalog: 'live', reconnectDelayMs: 50 });
    try {
      await listener.ready;
      assert.ok(listener.connected);
      assert.deepEqual(events, [{ catalog: 'live', version: 1, reason: 'connect' }]);

      // Another catalog's writes are filtered out; this one's arrive as notifications.
      await cat.store.upsertItems('elsewhere', [item('z.jpg', 'z', 1)]);
      const v2 = await write('b.jpg', 2);
      await until(() => events.some((e) => e.reason === 'notify' && e.version === v2), 'the NOTIFY');
      assert.ok(events.every((e) => e.catalog === 'live'));

      // The listener's backend is killed: it reconnects and reports the current version, so a write
      // made while it was away is caught up (by that report, or by its notification).
      const connects = () => events.filter((e) => e.reason === 'connect').length;
      await cat.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN lookalike_catalog' OR query LIKE 'SELECT name, version FROM catalogs%'",
      );
      await until(() => !listener.connected, 'the listener to notice');
      const v3 = await write('c.jpg', 3);
      await until(() => connects() === 2, 'the reconnect');
      await until(() => events.some((e) => e.version === v3), 'the missed version');

      // A server restart: the same, then notifications flow again.
      await server.restart();
      const v4 = await write('d.jpg', 4);
      await until(() => connects() === 3 && listener.connected, 'the reconnect after the restart');
      await until(() => events.some((e) => e.version === v4), 'the version written across the restart');
      assert.equal(await cat.ping(), true, 'the pool answers again after the restart');
      const v5 = await write('e.jpg', 5);
      await until(() => events.some((e) => e.reason === 'notify' && e.version === v5), 'a NOTIFY after the restart');
      const versions = events.map((e) => e.version);
      assert.deepEqual(
        versions,
        [...versions].sort((x, y) => x - y),
        'versions only grow',
      );
    } finally {
      await listener.close();
    }
    assert.equal(listener.connected, false);
  });
});
