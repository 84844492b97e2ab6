/**
 * The BullMQ coordinator with in-process workers: a real private PostgreSQL and Redis (each part
 * on a Redis database of its own, so queues never mix), the real ONNX embedder (untrained
 * weights), real sharp-drawn images. The lead's multi-process tests run them as separate processes.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CoordinatorOptions,
  createCoordinator,
  createLocalReindexer,
  type EmbedWorker,
  embedQueueName,
  modelKey,
  type Reindexer,
  startEmbedWorker,
} from '@lookalike/cluster';
import type { Embedder, ReindexProgress } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import type { PgCatalog } from '@lookalike/pg';
import {
  acquireLease,
  closeRedis,
  createRedisClient,
  publishProgress,
  type Redis,
  readProgress,
} from '@lookalike/redis';
import { Queue } from 'bullmq';
import { rejectsWith } from '../helpers/assert.ts';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { steppedEmbedder } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type PgServer, startPostgres } from '../helpers/pg-server.ts';
import { type RedisServer, startRedis } from '../helpers/redis-server.ts';
import { eventually, freshCatalog, maxAbsDiff, storedVectors } from './fixtures/reindex-support.ts';

const ROOT = join(TEST_TMP_DIR, `cluster-coordinator-${process.pid}`);

let server: PgServer;
let redisServer: RedisServer;
let db: PgCatalog;
let real: ImageEmbedder;

before(async () => {
  server = await startPostgres();
  redisServer = await startRedis();
  ({ pg: db } = await freshCatalog(server));
  real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 4 });
});

after(async () => {
  await db?.close();
  await real?.dispose();
  await redisServer?.stop();
  await server?.stop();
  await rm(ROOT, { recursive: true, force: true });
});

/** One part's Redis database: the shared client, a queue to look at, and what it opened. */
class Part {
  readonly url: string;
  readonly redis: Redis;
  /** The embedding queue of each catalog this part used (one queue per catalog). */
  readonly #queues = new Map<string, Queue>();
  readonly #closers: (() => Promise<void>)[] = [];

  constructor(n: number) {
    this.url = `${redisServer.url}/${n}`;
    this.redis = createRedisClient(this.url);
  }

  queue(name: string): Queue {
    let q = this.#queues.get(name);
    if (q === undefined) {
      q = new Queue(embedQueueName(name), { connection: this.redis });
      this.#queues.set(name, q);
    }
    return q;
  }

  coordinator(name: string, cat: TestCatalog, extra: Partial<CoordinatorOptions> = {}): Reindexer {
    this.queue(name);
    const c = createCoordinator({
      name,
      pg: db,
      redisUrl: this.url,
      redis: this.redis,
      weights: real.weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      pollMs: 50,
      ...extra,
    });
    this.#closers.push(() => c.close());
    return c;
  }

  async worker(
    name: string,
    cat: TestCatalog,
    embedder: Embedder = real,
    weights = real.weights,
  ): Promise<EmbedWorker> {
    const w = await startEmbedWorker({
      name,
      pg: db,
      redisUrl: this.url,
      embedder,
      weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
      concurrency: 2,
    });
    this.#closers.push(() => w.close());
    return w;
  }

  /** Jobs waiting, active or delayed, in every catalog's queue this part used. */
  async queued(): Promise<number> {
    let n = 0;
    for (const q of this.#queues.values()) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      n += Object.values(c).reduce((a, b) => a + b, 0);
    }
    return n;
  }

  async close(): Promise<void> {
    for (const close of this.#closers.reverse()) await close();
    for (const q of this.#queues.values()) await q.close();
    await closeRedis(this.redis);
  }
}

describe('coordinator and two workers', () => {
  let part: Part;
  let cat: TestCatalog;
  const COUNT = 16;

  before(async () => {
    part = new Part(1);
    cat = await makeTestCatalog(join(ROOT, 'dist'), { count: COUNT });
  });
  after(() => part?.close());

  it('GIVEN two workers THEN the distributed run stores what the local reindexer stores, with progress every process can read', async () => {
    const local = createLocalReindexer({
      name: 'local',
      pg: db,
      embedder: real,
      weights: real.weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
    });
    const l = await local.run();
    await local.close();
    assert.equal(l.added, COUNT);

    const gate = steppedEmbedder(real);
    const w1 = await part.worker('dist', cat, gate);
    const w2 = await part.worker('dist', cat, gate);
    const coordinator = part.coordinator('dist', cat);
    // Another process's view: its own client, not running anything.
    const otherRedis = createRedisClient(part.url);
    const other = createCoordinator({
      name: 'dist',
      pg: db,
      redisUrl: part.url,
      redis: otherRedis,
      weights: real.weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
    });
    try {
      const events: ReindexProgress[] = [];
      const run = coordinator.run((p) => events.push(p));
      await gate.firstHeld;
      await eventually(async () => other.progress()?.phase === 'embedding', 'the other process sees the progress');
      assert.equal(other.progress()?.total, COUNT);
      const read = await readProgress<ReindexProgress>(otherRedis, 'reindex:dist');
      assert.equal(read?.phase, 'embedding');
      const refused = await rejectsWith(other.run(), 'REINDEX_IN_PROGRESS');
      assert.equal((refused.details.progress as ReindexProgress).phase, 'embedding');
      gate.openAll();
      const s = await run;
      assert.equal(s.added, COUNT);
      assert.equal(s.embedded, COUNT);
      assert.equal(s.failed, 0);
      assert.equal(s.resumed, false);
      assert.equal(w1.processed() + w2.processed(), COUNT, 'each job ran once');
      assert.deepEqual(
        [...new Set(events.map((e) => e.phase))],
        ['scanning', 'hashing', 'removing', 'embedding', 'done'],
      );
      assert.equal(events.at(-1)?.searchable, COUNT);
      await eventually(async () => other.progress() === null, 'the progress is cleared after the run');
      assert.equal((await db.store.getRun(s.runId))?.status, 'done');

      const a = await storedVectors(db.store, 'local', real.weights);
      const b = await storedVectors(db.store, 'dist', real.weights);
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
      for (const [key, x] of a) {
        const y = b.get(key)!;
        assert.equal(y.contentHash, x.contentHash, key);
        assert.deepEqual(y.metadata, x.metadata, key);
        assert.ok(maxAbsDiff(x.vector, y.vector) < 1e-4, `${key}: same vector`);
      }
    } finally {
      await other.close();
      await closeRedis(otherRedis);
    }
  });

  it('GIVEN nothing changed THEN the next run queues no job', async () => {
    const s = await part.coordinator('dist', cat).run();
    assert.equal(s.unchanged, COUNT);
    assert.equal(s.embedded, 0);
    assert.equal(await part.queued(), 0);
  });

  it('GIVEN changed labels and no worker at all THEN items are relabelled without re-embedding', async () => {
    await part.close();
    part = new Part(1);
    const item = cat.items[4]!;
    const text = await readFile(cat.labelsPath, 'utf8');
    await writeFile(cat.labelsPath, text.replace(item.productDisplayName, 'Relabelled Here'));
    const s = await part.coordinator('dist', cat, { noWorkerTimeoutMs: 200 }).run();
    assert.equal(s.relabelled, 1);
    assert.equal(s.embedded, 0);
    const listed = await db.store.listItems('dist', modelKey(real.weights));
    const row = listed.find((i) => i.sourceKey === item.file)!;
    assert.equal((row.metadata.labels as Record<string, string>).productDisplayName, 'Relabelled Here');
    assert.ok(row.embedded, 'its vector stays');
  });

  it('GIVEN most files gone THEN the run is refused before any write or job', async () => {
    const away = join(ROOT, 'dist-away');
    await mkdir(away, { recursive: true });
    const moved = cat.items.slice(0, 10).map((i) => i.file);
    for (const f of moved) await rename(join(cat.imagesDir, f), join(away, f));
    try {
      const version = await db.store.catalogVersion('dist');
      const err = await rejectsWith(part.coordinator('dist', cat).run(), 'REINDEX_MASS_REMOVAL');
      assert.equal(err.details.wouldRemove, 10);
      assert.equal(await db.store.catalogVersion('dist'), version);
      assert.equal(await part.queued(), 0);
      assert.equal(await db.store.runningRun('dist'), undefined, 'no run was started');
    } finally {
      for (const f of moved) await rename(join(away, f), join(cat.imagesDir, f));
    }
  });
});

describe('coordinator without workers', () => {
  let part: Part;
  let cat: TestCatalog;
  const COUNT = 6;

  before(async () => {
    part = new Part(2);
    cat = await makeTestCatalog(join(ROOT, 'resume'), { count: COUNT, seed: 11 });
  });
  after(() => part?.close());

  it('GIVEN no worker THEN REINDEX_NO_WORKERS, the jobs stay queued, adding them again adds none, and a later run resumes', async () => {
    const coordinator = part.coordinator('resume', cat, { noWorkerTimeoutMs: 300 });
    const first = await rejectsWith(coordinator.run(), 'REINDEX_NO_WORKERS');
    const runId = first.details.runId as number;
    assert.equal((await db.store.runningRun('resume'))?.id, runId, 'the run stays running');
    assert.equal(await part.queued(), COUNT);

    const second = await rejectsWith(coordinator.run(), 'REINDEX_NO_WORKERS');
    assert.equal(second.details.runId, runId, 'the same run');
    assert.equal(await part.queued(), COUNT, 'idempotent adds: still one job per file');

    const w = await part.worker('resume', cat);
    const s = await coordinator.run();
    assert.equal(s.resumed, true);
    assert.equal(s.runId, runId);
    assert.equal(s.added, COUNT);
    assert.equal(w.processed(), COUNT);
    assert.equal((await db.store.getRun(runId))?.status, 'done');
    assert.equal((await storedVectors(db.store, 'resume', real.weights)).size, COUNT);
    assert.equal(await part.queued(), 0);
    // One queue serves one catalog: a worker of this one would fail the next part's jobs (CONFIG_INVALID).
    await w.close();
  });

  it('GIVEN the lease taken over while the run waits THEN the run stops, stays running, and the next run resumes it', async () => {
    const small = await makeTestCatalog(join(ROOT, 'lost'), { count: 2, seed: 13 });
    const gate = steppedEmbedder(real);
    const w = await part.worker('lost', small, gate);
    const run = part.coordinator('lost', small, { leaseTtlMs: 1500 }).run();
    await gate.firstHeld;
    await part.redis.set('lookalike:lease:reindex:lost', 'another-coordinator', 'PX', 60_000);
    await rejectsWith(run, 'REINDEX_IN_PROGRESS');
    const orphan = await db.store.runningRun('lost');
    assert.ok(orphan, 'the run stays running');
    gate.openAll();
    await part.redis.del('lookalike:lease:reindex:lost');
    const s = await part.coordinator('lost', small).run();
    assert.equal(s.resumed, true);
    assert.equal(s.runId, orphan.id);
    assert.equal((await storedVectors(db.store, 'lost', real.weights)).size, 2);
    await w.close();
  });

  it('GIVEN the lease held by another coordinator THEN REINDEX_IN_PROGRESS with its published progress', async () => {
    const lease = await acquireLease(part.redis, 'reindex:resume', { ttlMs: 10_000 });
    const progress: ReindexProgress = {
      phase: 'embedding',
      done: 3,
      total: 9,
      rate: 1,
      etaSeconds: 6,
      startedAt: 1,
      searchable: 3,
      expected: 9,
    };
    await publishProgress(part.redis, 'reindex:resume', progress);
    try {
      const err = await rejectsWith(part.coordinator('resume', cat).run(), 'REINDEX_IN_PROGRESS');
      assert.deepEqual(err.details.progress, progress);
      assert.equal(await db.store.runningRun('resume'), undefined);
    } finally {
      await lease.release();
      await publishProgress(part.redis, 'reindex:resume', null);
    }
  });
});

describe('coordinator failures', () => {
  let part: Part;

  before(() => {
    part = new Part(3);
  });
  after(() => part?.close());

  it('GIVEN an image that does not decode THEN it is counted failed and recorded with its code', async () => {
    const cat = await makeTestCatalog(join(ROOT, 'fail'), { count: 3, seed: 5 });
    const jpeg = cat.items.find((i) => i.file.endsWith('.jpg'))!;
    await writeFile(
      join(cat.imagesDir, 'broken.jpg'),
      (await readFile(join(cat.imagesDir, jpeg.file))).subarray(0, 300),
    );
    const w = await part.worker('fail', cat);
    const s = await part.coordinator('fail', cat).run();
    assert.equal(s.added, 3);
    assert.equal(s.failed, 1);
    assert.deepEqual(s.failedFiles, ['broken.jpg']);
    const failures = await db.store.failures('fail');
    assert.deepEqual(
      failures.map((f) => [f.sourceKey, f.code]),
      [['broken.jpg', 'IMAGE_DECODE_FAILED']],
    );
    await w.close();

    // Known now: reported again, not queued again.
    const again = await part.coordinator('fail', cat, { noWorkerTimeoutMs: 200 }).run();
    assert.equal(again.failed, 1);
    assert.equal(again.embedded, 0);
  });

  it('GIVEN only a worker of other weights THEN every job fails WORKER_MODEL_MISMATCH, recorded', async () => {
    const cat = await makeTestCatalog(join(ROOT, 'mm'), { count: 2, seed: 9 });
    const wrong = await part.worker('mm', cat, real, { ...real.weights, md5: 'f'.repeat(32) });
    const s = await part.coordinator('mm', cat).run();
    assert.equal(s.added, 0);
    assert.equal(s.failed, 2);
    const failures = await db.store.failures('mm');
    assert.deepEqual(
      failures.map((f) => f.code),
      ['WORKER_MODEL_MISMATCH', 'WORKER_MODEL_MISMATCH'],
    );
    const failed = await part.queue('mm').getFailed();
    assert.ok(failed.some((j) => /^WORKER_MODEL_MISMATCH: /.test(j.failedReason)));
    await wrong.close();

    // Not a fault of the files: the next run tries them again, though BullMQ still holds the
    // failed jobs under the same ids (they are taken out and added again).
    const right = await part.worker('mm', cat);
    const again = await part.coordinator('mm', cat).run();
    assert.equal(again.added, 2);
    assert.equal(again.failed, 0);
    assert.equal(right.processed(), 2);
    assert.deepEqual(await db.store.failures('mm'), [], 'written items clear their failures');
  });
});
