/**
 * The runtime and CLI wiring of the scale-out mode, on a private PostgreSQL and Redis, the
 * untrained model and a generated catalog of 12 images:
 *
 * - DATABASE_URL alone: `lookalike index` embeds in this process into PostgreSQL; openRuntime is
 *   a replica of that catalog (no SQLite file); its readiness follows the database.
 * - both URLs, no worker: `lookalike index` (the coordinator) says so within the timeout, exit 1.
 * - both URLs, as processes: `lookalike worker` consumes, `lookalike index` coordinates,
 *   `lookalike start` answers as a replica (no background index) with /readyz naming the
 *   database, Redis and the index; SIGTERM ends each with 0.
 * - an unreachable database or Redis at start: DATABASE_UNAVAILABLE / REDIS_UNAVAILABLE, the
 *   URL named without its password.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { catalogExists } from '@lookalike/catalog';
import { type Config, LookalikeError, parseConfig, silentLogger } from '@lookalike/core';
import { closeRedis, createEventDeduper, createRedisClient } from '@lookalike/redis';
import { openEngines, openRuntime } from '@lookalike/runtime';
import { indexCommand } from '../../apps/cli/src/commands/index.ts';
import { rejectsWith } from '../helpers/assert.js';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { listenOnLoopback } from '../helpers/net.js';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';
import { type RunningCli, runCli, spawnCli } from '../helpers/process.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const COUNT = 12;

let pg: PgServer;
let redis: RedisServer;
let modelsDir: string;
let root: string;
let catalog: TestCatalog;

before(async () => {
  [pg, redis, modelsDir] = await Promise.all([startPostgres(), startRedis(), ensureUntrainedModels()]);
  root = await mkdtemp(join(TEST_TMP_DIR, 'runtime-pg-'));
  catalog = await makeTestCatalog(join(root, 'catalog'), { count: COUNT, seed: 11 });
});

after(async () => {
  await redis?.stop();
  await pg?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** The environment of every process of this file (besides the URLs it adds). */
function env(over: Record<string, string> = {}): Record<string, string> {
  return {
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: join(root, 'data'),
    LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
    LOOKALIKE_LABELS: catalog.labelsPath,
    LOOKALIKE_BATCH_SIZE: '4',
    LOG_LEVEL: 'warn',
    ...over,
  };
}

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  err.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return { out, err, text: () => ({ stdout, stderr }) };
}

/** `lookalike index` in this process, with `config`. */
async function index(config: Config): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = io();
  const code = await indexCommand.run([], { config, logger: silentLogger, stdout: s.out, stderr: s.err });
  return { code, ...s.text() };
}

/** Polls until `check` holds: a liveness bound, not a timed assertion. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('DATABASE_URL alone', () => {
  test('GIVEN `lookalike index` THEN it embeds into PostgreSQL; openRuntime is a replica that answers, ready while the database is', async () => {
    const config = parseConfig(env({ DATABASE_URL: pg.url, LOOKALIKE_CATALOG_NAME: 'local' }));
    const run = await index(config);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /into PostgreSQL catalog local\n/);
    assert.match(run.stdout, new RegExp(`^added ${COUNT}, updated 0, removed 0, unchanged 0, failed 0$`, 'm'));
    assert.match(run.stdout, new RegExp(`embedded ${COUNT} image\\(s\\)`));
    assert.equal(catalogExists(config.dataDir), false, 'no SQLite catalog in PostgreSQL mode');

    const runtime = await openRuntime({ config, logger: silentLogger });
    try {
      assert.equal(runtime.store.kind, 'postgres');
      assert.ok(runtime.store.kind === 'postgres' && !runtime.store.coordinated && runtime.store.name === 'local');
      assert.equal(runtime.catalog.size(), COUNT);
      assert.equal(runtime.catalog.info().modelMismatch, false);
      const photo = await readFile(join(catalog.imagesDir, catalog.items[0]!.file));
      const answer = await runtime.service.findSimilar(photo, { userId: 'u', k: 6 });
      assert.equal(answer.results.length, 6);
      for (const r of answer.results) assert.ok(r.path.startsWith(catalog.imagesDir), r.path);

      const ready = await runtime.readiness();
      assert.equal(ready.ready, true, JSON.stringify(ready));
      assert.deepEqual(Object.keys(ready.checks).sort(), ['database', 'index']);
      assert.match(ready.checks.index?.detail ?? '', new RegExp(`^version \\d+, ${COUNT} items, following changes$`));

      await pg.down();
      const down = await runtime.readiness();
      assert.equal(down.ready, false);
      assert.equal(down.checks.database?.ok, false);
      // Queries answer from the in-memory index meanwhile.
      assert.equal((await runtime.service.findSimilar(photo, { userId: 'u' })).results.length, 6);
      await pg.up();
      await eventually(async () => (await runtime.readiness()).ready, '/readyz ready again after the restart');
    } finally {
      await runtime.close();
    }
  });
});

describe('both URLs', () => {
  test('GIVEN no worker running THEN `lookalike index` says so within the timeout and exits 1', async () => {
    const config = parseConfig(
      env({
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        LOOKALIKE_CATALOG_NAME: 'idle',
        LOOKALIKE_NO_WORKER_TIMEOUT_MS: '500',
      }),
    );
    const run = await index(config);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /Coordinating the reindex of PostgreSQL catalog idle/);
    assert.match(run.stderr, /lookalike index: no embedding worker is running \(none seen for 500 ms\)/);
    assert.match(run.stderr, /start `lookalike worker`/);
    // The queued jobs of this run are not the next test's business.
    const client = createRedisClient(redis.url);
    await client.flushall();
    await closeRedis(client);
  });

  test('GIVEN `lookalike worker`, `lookalike index` and `lookalike start` as processes THEN the worker embeds, the replica answers and is ready', async () => {
    const vars = env({ DATABASE_URL: pg.url, REDIS_URL: redis.url, LOOKALIKE_CATALOG_NAME: 'shop' });
    const processes: RunningCli[] = [];
    try {
      const worker = spawnCli(['worker'], vars);
      processes.push(worker);
      const ready = await worker.line(/^worker: ready /);
      assert.match(ready, /^worker: ready \(concurrency 8, model resnet50-gmp:[0-9a-f]{32}:fp32\)$/);

      const run = await runCli(['index'], vars);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /into PostgreSQL catalog shop \(embedded by the workers\)\n/);
      assert.match(run.stdout, new RegExp(`^added ${COUNT}, `, 'm'));
      assert.match(run.stdout, new RegExp(`embedded ${COUNT} image\\(s\\)`));

      const start = spawnCli(['start'], { ...vars, PORT: '0', LOCAL_PAGE: 'off' });
      processes.push(start);
      await start.line(
        new RegExp(
          `^PostgreSQL catalog shop: ${COUNT} items at version \\d+; run \`lookalike index\` or /reindex to update it$`,
        ),
      );
      const listening = await start.line(/^Listening on http:\/\/127\.0\.0\.1:\d+ /);
      const port = Number(/:(\d+) /.exec(listening)?.[1]);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'index', 'redis']);
      assert.match(body.checks.index?.detail ?? '', new RegExp(`, ${COUNT} items, following changes$`));
      assert.ok(!start.logs.some((l) => /indexing|checking for changes/i.test(l)), 'no background index');

      for (const p of [start, worker]) {
        p.child.kill('SIGTERM');
        const exit = await p.exited;
        assert.equal(exit.code, 0, exit.stderr);
      }
    } finally {
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  });

  test('GIVEN REDIS_URL THEN the runtime’s claims are shared through Redis', async () => {
    const config = parseConfig(env({ DATABASE_URL: pg.url, REDIS_URL: redis.url, LOOKALIKE_CATALOG_NAME: 'shop' }));
    const runtime = await openRuntime({ config, logger: silentLogger });
    const other = createRedisClient(redis.url);
    try {
      assert.ok(runtime.store.kind === 'postgres' && runtime.store.coordinated);
      assert.equal(runtime.catalog.size(), COUNT, 'the replica loaded what the workers wrote');
      assert.equal(await runtime.claims.claim('slack:C1:1.0'), true);
      assert.equal(await createEventDeduper(other).claim('slack:C1:1.0'), false, 'another replica sees the claim');
    } finally {
      await runtime.close();
      await closeRedis(other);
    }
  });
});

describe('engines unreachable at start', () => {
  /** A loopback port nothing listens on. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    const port = await listenOnLoopback(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  test('GIVEN a DATABASE_URL nothing answers THEN DATABASE_UNAVAILABLE naming the URL without its password', async () => {
    const port = await closedPort();
    const config = parseConfig(env({ DATABASE_URL: `postgres://shop:hunter2@127.0.0.1:${port}/shop` }));
    const err = await rejectsWith(openRuntime({ config, logger: silentLogger }), 'DATABASE_UNAVAILABLE');
    assert.match(err.message, new RegExp(`postgres://shop:\\*\\*\\*@127\\.0\\.0\\.1:${port}/shop`));
    assert.ok(!err.message.includes('hunter2'));
  });

  test('GIVEN a REDIS_URL nothing answers THEN REDIS_UNAVAILABLE naming the URL without its password', async () => {
    const port = await closedPort();
    const err = await openEngines(parseConfig({ REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` }), silentLogger).then(
      () => assert.fail('expected REDIS_UNAVAILABLE'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LookalikeError && err.code === 'REDIS_UNAVAILABLE', String(err));
    assert.match(err.message, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    assert.ok(!err.message.includes('s3cret'));
  });
});
