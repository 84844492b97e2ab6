/**
 * The distributed mode as separate processes on a private PostgreSQL and Redis: `lookalike index`
 * as the coordinator, `lookalike worker` processes embedding from BullMQ, `lookalike start`
 * replicas answering from PostgreSQL. Issue 11's tests 1–3: a distributed reindex over 200 images
 * answered alike by two replicas, a worker SIGKILLed mid-run, a coordinator SIGKILLed mid-run and
 * started again.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { type RunningCli, type SpawnedApp, spawnApp, spawnCli } from '../helpers/process.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { answerIds, counts, stopAll, waitFor } from './fixtures/distributed.js';

const ITEMS = 200;

describe('distributed reindex: coordinator, workers and replicas as processes', { timeout: 900_000 }, () => {
  let pgServer: PgServer;
  let redisServer: RedisServer;
  let pg: PgCatalog;
  let catalog: TestCatalog;
  let modelsDir: string;
  const running: (RunningCli | SpawnedApp)[] = [];

  before(async () => {
    [pgServer, redisServer, modelsDir] = await Promise.all([startPostgres(), startRedis(), ensureUntrainedModels()]);
    catalog = await makeTestCatalog(join(TEST_TMP_DIR, `distributed-${process.pid}`), { count: ITEMS, width: 160 });
    pg = openPgCatalog(pgServer.url);
    await pg.migrate();
  });

  after(async () => {
    await stopAll(running);
    await pg?.close();
    await Promise.all([pgServer?.stop(), redisServer?.stop()]);
  });

  /** The environment of every process of one test: its own catalog name, short locks and leases. */
  const envFor = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: pgServer.url,
    REDIS_URL: redisServer.url,
    LOOKALIKE_CATALOG_NAME: name,
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: join(catalog.dir, `data-${name}`),
    LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
    LOOKALIKE_LABELS: catalog.labelsPath,
    LOOKALIKE_THREADS: '1',
    LOOKALIKE_EMBED_WORKERS: '1',
    LOOKALIKE_JOB_LOCK_MS: '4000',
    LOOKALIKE_REINDEX_LEASE_MS: '3000',
    LOG_LEVEL: 'warn',
    ...extra,
  });

  const startWorker = async (name: string): Promise<RunningCli> => {
    const w = spawnCli(['worker'], envFor(name));
    running.push(w);
    await w.line(/worker: ready/);
    return w;
  };

  const startReplica = async (name: string): Promise<SpawnedApp> => {
    const app = await spawnApp('apps/cli/src/main.ts', ['start'], catalog.dir, {
      ...envFor(name),
      HOST: '127.0.0.1',
      PORT: '0',
    });
    running.push(app);
    return app;
  };

  test('GIVEN 2 workers and 2 replicas WHEN the coordinator indexes 200 images THEN each is stored once with its vector and both replicas answer the same 6 ids', async () => {
    const name = 'spread';
    const [r1, r2] = await Promise.all([startReplica(name), startReplica(name)]);
    await Promise.all([startWorker(name), startWorker(name)]);
    const coordinator = spawnCli(['index', catalog.imagesDir, '--labels', catalog.labelsPath], envFor(name));
    running.push(coordinator);
    const result = await coordinator.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`added ${ITEMS}, updated 0, removed 0, unchanged 0, failed 0`));

    const c = await counts(pg, name);
    assert.deepEqual(c, { items: ITEMS, distinctKeys: ITEMS, vectors: ITEMS, failures: 0 });

    // Both replicas follow the writes (NOTIFY) to the whole catalog, then answer alike.
    for (const r of [r1, r2]) {
      await waitFor(async () => {
        const s = (await (await fetch(`${r.base}/api/status`)).json()) as { catalogSize: number };
        return s.catalogSize === ITEMS;
      }, `replica ${r.base} holds ${ITEMS} items`);
      const ready = await fetch(`${r.base}/readyz`);
      assert.equal(ready.status, 200);
    }
    const photo = await readFile(join(catalog.imagesDir, '10003.jpg'));
    const [a, b] = await Promise.all([answerIds(r1.base, photo), answerIds(r2.base, photo)]);
    assert.equal(a.length, 6);
    assert.deepEqual(a, b);
  });

  test('GIVEN 2 workers WHEN one is SIGKILLed mid-run THEN the other finishes, nothing is lost or stored twice, and the summary counts match', async () => {
    const name = 'killed-worker';
    const [w1] = await Promise.all([startWorker(name), startWorker(name)]);
    const coordinator = spawnCli(['index', catalog.imagesDir, '--labels', catalog.labelsPath], envFor(name));
    running.push(coordinator);
    await waitFor(async () => (await counts(pg, name)).vectors >= 30, '30 items embedded');
    w1!.child.kill('SIGKILL');
    const result = await coordinator.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`added ${ITEMS}, updated 0, removed 0, unchanged 0, failed 0`));
    assert.deepEqual(await counts(pg, name), { items: ITEMS, distinctKeys: ITEMS, vectors: ITEMS, failures: 0 });
    // Stored once: a re-run job's equal vector is left alone, so every vector row was written once.
    const rewritten = await pg.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM vectors x JOIN items i ON i.id = x.item_id
        WHERE i.catalog = $1 AND x.version <> i.version`,
      [name],
    );
    assert.equal(Number(rewritten.rows[0]!.n), 0);
  });

  test('GIVEN a coordinator SIGKILLed mid-run WHEN it is started again THEN it resumes the same run instead of starting over', async () => {
    const name = 'killed-coordinator';
    await startWorker(name);
    const first = spawnCli(['index', catalog.imagesDir, '--labels', catalog.labelsPath], envFor(name));
    running.push(first);
    await waitFor(async () => (await counts(pg, name)).vectors >= 40, '40 items embedded');
    first.child.kill('SIGKILL');
    await first.exited;
    const runs = await pg.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM reindex_runs WHERE catalog = $1 ORDER BY id',
      [name],
    );
    assert.deepEqual(
      runs.rows.map((r) => r.status),
      ['running'],
    );
    // Its queued jobs keep being embedded meanwhile; the restarted coordinator waits out the lease.
    const second = spawnCli(['index', catalog.imagesDir, '--labels', catalog.labelsPath], envFor(name));
    running.push(second);
    const result = await second.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\(run \d+, resumed\)/);
    const embedded = Number(/embedded (\d+) image/.exec(result.stdout)?.[1]);
    assert.ok(embedded < ITEMS, `the resumed run re-embedded only what was left (${embedded})`);
    assert.deepEqual(await counts(pg, name), { items: ITEMS, distinctKeys: ITEMS, vectors: ITEMS, failures: 0 });
    const after = await pg.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM reindex_runs WHERE catalog = $1 ORDER BY id',
      [name],
    );
    assert.deepEqual(
      after.rows.map((r) => [r.id, r.status]),
      [[runs.rows[0]!.id, 'done']],
    );
  });
});
