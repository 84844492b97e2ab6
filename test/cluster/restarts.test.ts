/**
 * Issue 11's test 8, as processes: a replica and a worker on a private PostgreSQL and Redis.
 * Redis restarted while idle (empty: nothing persisted): the processes reconnect, and the next
 * query and the next reindex work. PostgreSQL down: /readyz goes unready while queries still
 * answer from the in-memory index, then ready again once it is back, and later changes arrive.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { type RunningCli, runCli, type SpawnedApp, spawnApp, spawnCli } from '../helpers/process.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { answerIds, counts, stopAll, waitFor } from './fixtures/distributed.js';

const ITEMS = 40;
const NAME = 'restarts';

interface Ready {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

describe('dependency restarts under a running replica and worker', { timeout: 600_000 }, () => {
  let pgServer: PgServer;
  let redisServer: RedisServer;
  let pg: PgCatalog;
  let catalog: TestCatalog;
  let env: Record<string, string>;
  let replica: SpawnedApp;
  let worker: RunningCli;
  let photo: Uint8Array;

  const readyz = async (): Promise<{ status: number; body: Ready }> => {
    const res = await fetch(`${replica.base}/readyz`);
    return { status: res.status, body: (await res.json()) as Ready };
  };
  const size = async (): Promise<number> =>
    ((await (await fetch(`${replica.base}/api/status`)).json()) as { catalogSize: number }).catalogSize;
  const index = async () => {
    const r = await runCli(['index', catalog.imagesDir, '--labels', catalog.labelsPath], env);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };

  before(async () => {
    let modelsDir: string;
    [pgServer, redisServer, modelsDir] = await Promise.all([startPostgres(), startRedis(), ensureUntrainedModels()]);
    catalog = await makeTestCatalog(join(TEST_TMP_DIR, `restarts-${process.pid}`), { count: ITEMS, width: 160 });
    pg = openPgCatalog(pgServer.url);
    env = {
      DATABASE_URL: pgServer.url,
      REDIS_URL: redisServer.url,
      LOOKALIKE_CATALOG_NAME: NAME,
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_DATA_DIR: join(catalog.dir, 'data'),
      LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
      LOOKALIKE_LABELS: catalog.labelsPath,
      LOOKALIKE_THREADS: '1',
      LOOKALIKE_EMBED_WORKERS: '1',
      LOOKALIKE_JOB_LOCK_MS: '4000',
      LOOKALIKE_REINDEX_LEASE_MS: '3000',
      LOOKALIKE_PAGE_RATE_PER_MINUTE: '1000',
      LOG_LEVEL: 'warn',
    };
    worker = spawnCli(['worker'], env);
    await worker.line(/worker: ready/);
    replica = await spawnApp('apps/cli/src/main.ts', ['start'], catalog.dir, { ...env, HOST: '127.0.0.1', PORT: '0' });
    await index();
    await waitFor(async () => (await size()) === ITEMS, `the replica holds ${ITEMS} items`);
    photo = await readFile(join(catalog.imagesDir, '10002.jpg'));
  });

  after(async () => {
    await stopAll([worker, replica].filter((p) => p !== undefined));
    await pg?.close();
    await Promise.all([pgServer?.stop(), redisServer?.stop()]);
  });

  test('GIVEN Redis restarted while idle WHEN the next query and the next reindex come THEN both work', async () => {
    const before = await answerIds(replica.base, photo);
    await redisServer.restart();
    // The first query after the restart: the shared rate limit reconnects (or falls back meanwhile).
    assert.deepEqual(await answerIds(replica.base, photo), before);
    await waitFor(async () => (await readyz()).status === 200, 'the replica ready again');
    // A new image reaches the catalog through the queue: the worker reconnected too.
    await copyFile(join(catalog.imagesDir, '10001.jpg'), join(catalog.imagesDir, 'added-after-redis.jpg'));
    const r = await index();
    assert.match(r.stdout, /added 1, updated 0, removed 0/);
    await waitFor(async () => (await size()) === ITEMS + 1, 'the replica holds the new item');
  });

  test('GIVEN PostgreSQL down THEN /readyz is unready and queries answer from memory; once it is back THEN ready, and later changes arrive', async () => {
    const expected = await answerIds(replica.base, photo);
    const sizeBefore = await size();
    await pgServer.down();
    try {
      await waitFor(async () => (await readyz()).status === 503, '/readyz unready');
      const unready = await readyz();
      assert.equal(unready.body.ready, false);
      assert.equal(unready.body.checks.database?.ok, false);
      // Answers come from the in-memory index meanwhile.
      assert.deepEqual(await answerIds(replica.base, photo), expected);
      assert.equal(await size(), sizeBefore);
    } finally {
      await pgServer.up();
    }
    await waitFor(async () => (await readyz()).status === 200, '/readyz ready again');
    await copyFile(join(catalog.imagesDir, '10003.jpg'), join(catalog.imagesDir, 'added-after-pg.jpg'));
    await index();
    await waitFor(
      async () => (await size()) === sizeBefore + 1,
      'the change made after the restart reached the replica',
    );
    assert.equal((await counts(pg, NAME)).items, sizeBefore + 1);
  });
});
