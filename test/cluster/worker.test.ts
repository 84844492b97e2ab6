/**
 * The embedding worker on its own: jobs added by hand to the real BullMQ queue on a private
 * Redis, written to a private PostgreSQL, embedded by the real ONNX embedder (untrained weights).
 * Outcomes are read where the coordinator reads them (lookalike:run:<id>:{done,failed,log}).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EmbedWorker, embedJobId, embedQueueName, modelKey, startEmbedWorker } from '@lookalike/cluster';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { rejectsWith } from '../helpers/assert.ts';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type PgServer, startPostgres } from '../helpers/pg-server.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { type RedisServer, startRedis } from '../helpers/redis-server.ts';
import { eventually, freshCatalog, maxAbsDiff, storedVectors } from './fixtures/reindex-support.ts';

const ROOT = join(TEST_TMP_DIR, `cluster-worker-${process.pid}`);
const NAME = 'w';

let server: PgServer;
let redisServer: RedisServer;
let db: PgCatalog;
let real: ImageEmbedder;
let cat: TestCatalog;
let redis: Redis;
let queueConn: Redis;
let queue: Queue;
let worker: EmbedWorker;
let runId: number;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface JobSpec {
  file: string;
  contentHash?: string;
  model?: string;
  catalog?: string;
}

async function jobData(spec: JobSpec, run = runId) {
  const abs = join(cat.imagesDir, spec.file);
  const bytes = await readFile(abs).catch(() => Buffer.alloc(0));
  const s = await stat(abs).catch(() => ({ size: 0, mtimeMs: 0 }));
  return {
    catalog: spec.catalog ?? NAME,
    sourceKey: spec.file,
    contentHash: spec.contentHash ?? sha(bytes),
    expectedHash: null,
    metadata: {
      id: spec.file.replace(/\.[^.]+$/, ''),
      labels: { articleType: 'Shirts' },
      file: { size: s.size, mtimeMs: s.mtimeMs },
    },
    model: spec.model ?? modelKey(real.weights),
    runId: run,
  };
}

async function add(q: Queue, data: Record<string, unknown>, opts: Record<string, unknown> = {}): Promise<string> {
  const id = embedJobId(String(data.catalog), String(data.sourceKey), String(data.contentHash));
  await q.add('embed', data, {
    jobId: id,
    attempts: 3,
    backoff: { type: 'fixed', delay: 100 },
    removeOnComplete: true,
    ...opts,
  });
  return id;
}

/** The outcome the worker reported for `jobId` in run `run`. */
async function outcome(jobId: string, run = runId): Promise<{ done: boolean; failed: string | null }> {
  const [done, failed] = await Promise.all([
    redis.sismember(`lookalike:run:${run}:done`, jobId),
    redis.hget(`lookalike:run:${run}:failed`, jobId),
  ]);
  return { done: done === 1, failed };
}

async function settled(jobId: string, run = runId): Promise<{ done: boolean; failed: string | null }> {
  let o = { done: false, failed: null as string | null };
  await eventually(async () => {
    o = await outcome(jobId, run);
    return o.done || o.failed !== null;
  }, `job ${jobId} settled`);
  return o;
}

async function log(run = runId): Promise<{ jobId: string; outcome: string; code?: string }[]> {
  return (await redis.lrange(`lookalike:run:${run}:log`, 0, -1)).map((l) => JSON.parse(l));
}

before(async () => {
  server = await startPostgres();
  redisServer = await startRedis();
  ({ pg: db } = await freshCatalog(server));
  real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 4 });
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: 6 });
  redis = new Redis(redisServer.url);
  queueConn = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  queue = new Queue(embedQueueName(NAME), { connection: queueConn });
  runId = await db.store.startRun(NAME);
  worker = await startEmbedWorker({
    name: NAME,
    pg: db,
    redisUrl: redisServer.url,
    embedder: real,
    weights: real.weights,
    dimension: real.dimension,
    imagesDir: cat.imagesDir,
    concurrency: 4,
  });
});

after(async () => {
  await worker?.close();
  await queue?.close();
  queueConn?.disconnect();
  redis?.disconnect();
  await db?.close();
  await real?.dispose();
  await redisServer?.stop();
  await server?.stop();
  await rm(ROOT, { recursive: true, force: true });
});

describe('embedding worker', () => {
  it('GIVEN a job THEN the item and its vector are written in PostgreSQL and the job is reported embedded', async () => {
    const file = cat.items[0]!.file;
    const data = await jobData({ file });
    const id = await add(queue, data);
    assert.deepEqual(await settled(id), { done: true, failed: null });
    const stored = await storedVectors(db.store, NAME, real.weights);
    const row = stored.get(file);
    assert.ok(row, 'written');
    assert.equal(row.contentHash, data.contentHash);
    assert.deepEqual(row.metadata, data.metadata);
    const [direct] = await real.embed([await readFile(join(cat.imagesDir, file))]);
    assert.ok(maxAbsDiff(row.vector, direct!) < 1e-4);
    assert.deepEqual(
      (await log()).filter((l) => l.jobId === id),
      [{ jobId: id, outcome: 'embedded' }],
    );
    assert.equal(await queue.getJobState(id), 'unknown', 'removed on completion');
  });

  it('GIVEN the same job run again THEN it stores once (the version does not move)', async () => {
    const file = cat.items[0]!.file;
    const version = await db.store.catalogVersion(NAME);
    const before = worker.processed();
    const id = await add(queue, await jobData({ file }));
    await eventually(async () => worker.processed() > before, 'the job ran again');
    assert.equal(await db.store.catalogVersion(NAME), version, 'an equal write changes nothing');
    assert.equal(await redis.scard(`lookalike:run:${runId}:done`), 1);
    assert.equal((await log()).filter((l) => l.jobId === id).length, 2, 'reported twice, counted once by the set');
  });

  it('GIVEN jobs for several files at once THEN each is written (coalesced writes) and reported', async () => {
    const ids = await Promise.all(cat.items.slice(1).map(async (i) => add(queue, await jobData({ file: i.file }))));
    for (const id of ids) assert.deepEqual(await settled(id), { done: true, failed: null });
    assert.equal((await storedVectors(db.store, NAME, real.weights)).size, cat.items.length);
  });

  it('GIVEN job data that does not validate THEN it fails for good at once and is recorded BAD_REQUEST', async () => {
    const data = { ...(await jobData({ file: 'x.jpg' })), contentHash: 'not-a-hash' };
    const id = await add(queue, data);
    assert.equal((await settled(id)).failed, 'BAD_REQUEST');
    await eventually(async () => (await queue.getJobState(id)) === 'failed', 'job failed');
    const job = await queue.getJob(id);
    assert.equal(job?.attemptsMade, 1, 'not retried');
    assert.match(job?.failedReason ?? '', /^BAD_REQUEST: invalid job contentHash/);
    const f = (await db.store.failures(NAME)).find((x) => x.sourceKey === 'x.jpg');
    assert.equal(f?.code, 'BAD_REQUEST');
  });

  it('GIVEN a source key outside the images folder THEN the file is never read and the job fails BAD_REQUEST', async () => {
    await writeFile(join(ROOT, 'catalog', 'outside.jpg'), await readFile(join(cat.imagesDir, cat.items[0]!.file)));
    const data = await jobData({ file: cat.items[0]!.file });
    const escaped = { ...data, sourceKey: '../outside.jpg' };
    const id = await add(queue, escaped);
    assert.equal((await settled(id)).failed, 'BAD_REQUEST');
    const job = await queue.getJob(id);
    assert.match(job?.failedReason ?? '', /outside the images folder/);
    const listed = await db.store.listItems(NAME, modelKey(real.weights));
    assert.ok(!listed.some((i) => i.sourceKey === '../outside.jpg'));
  });

  it('GIVEN a job for other weights THEN it fails WORKER_MODEL_MISMATCH, recorded, not retried', async () => {
    const file = cat.items[1]!.file;
    const id = await add(
      queue,
      await jobData({ file, model: 'resnet50-gmp:ffffffffffffffffffffffffffffffff:fp32' }, 101),
    );
    assert.equal((await settled(id, 101)).failed, 'WORKER_MODEL_MISMATCH');
    await eventually(async () => (await queue.getJobState(id)) === 'failed', 'job failed');
    assert.equal((await queue.getJob(id))?.attemptsMade, 1);
    const f = (await db.store.failures(NAME)).find((x) => x.sourceKey === file);
    assert.equal(f?.code, 'WORKER_MODEL_MISMATCH');
  });

  it('GIVEN a job of another catalog THEN it fails CONFIG_INVALID', async () => {
    const id = await add(queue, await jobData({ file: cat.items[1]!.file, catalog: 'other' }, 102));
    assert.equal((await settled(id, 102)).failed, 'CONFIG_INVALID');
  });

  it('GIVEN a file whose content changed since planning THEN nothing is written and the job is superseded', async () => {
    await writeFile(join(cat.imagesDir, 'moved.jpg'), await readFile(join(cat.imagesDir, cat.items[2]!.file)));
    const id = await add(queue, await jobData({ file: 'moved.jpg', contentHash: 'c'.repeat(64) }));
    assert.deepEqual(await settled(id), { done: true, failed: null });
    assert.deepEqual(
      (await log()).filter((l) => l.jobId === id),
      [{ jobId: id, outcome: 'superseded' }],
    );
    const listed = await db.store.listItems(NAME, modelKey(real.weights));
    assert.ok(!listed.some((i) => i.sourceKey === 'moved.jpg'), 'not written');
  });

  it('GIVEN an image that does not decode THEN it is recorded with its code and the job is not retried', async () => {
    const jpeg = cat.items.find((i) => i.file.endsWith('.jpg'))!;
    await writeFile(
      join(cat.imagesDir, 'broken.jpg'),
      (await readFile(join(cat.imagesDir, jpeg.file))).subarray(0, 300),
    );
    const data = await jobData({ file: 'broken.jpg' });
    const id = await add(queue, data);
    assert.equal((await settled(id)).failed, 'IMAGE_DECODE_FAILED');
    await eventually(async () => (await queue.getJobState(id)) === 'unknown', 'the job completed (no retry)');
    const f = (await db.store.failures(NAME)).find((x) => x.sourceKey === 'broken.jpg');
    assert.equal(f?.code, 'IMAGE_DECODE_FAILED');
    assert.equal(f?.contentHash, data.contentHash);
  });

  it('GIVEN no images folder THEN the worker does not start (CONFIG_INVALID)', async () => {
    await rejectsWith(
      startEmbedWorker({
        name: NAME,
        pg: db,
        redisUrl: redisServer.url,
        embedder: real,
        weights: real.weights,
        dimension: real.dimension,
        imagesDir: undefined,
      }),
      'CONFIG_INVALID',
    );
  });
});

describe('embedding worker and an unavailable PostgreSQL', () => {
  it('GIVEN PostgreSQL unavailable THEN jobs wait without using their attempts, and are written once it is back', async () => {
    // A queue of its own (Redis db 1), and a worker whose database does not exist yet.
    const url1 = `${redisServer.url}/1`;
    const late = new URL(server.url);
    late.pathname = `/late_${process.pid}`;
    const latePg = openPgCatalog(late.toString());
    const conn = new Redis(url1, { maxRetriesPerRequest: null });
    const q = new Queue(embedQueueName(NAME), { connection: conn });
    const r1 = new Redis(url1);
    const log = recordingLogger();
    const w = await startEmbedWorker({
      name: NAME,
      pg: latePg,
      logger: log,
      redisUrl: url1,
      embedder: real,
      weights: real.weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
    });
    try {
      // One attempt only: an outage must not use it up (the queue pauses and the job waits again).
      const once = await add(q, await jobData({ file: cat.items[3]!.file }, 7), { attempts: 1 });
      const other = await add(q, await jobData({ file: cat.items[4]!.file }, 8), { attempts: 1 });
      // The worker tried them, found the database missing, and paused the queue.
      await eventually(
        async () => log.entries.some((e) => e.msg === 'PostgreSQL unavailable: pausing the queue'),
        'the queue paused',
      );
      // Long enough for a second try of each after the pause.
      await new Promise((r) => setTimeout(r, 2500));
      for (const id of [once, other]) {
        assert.notEqual(await q.getJobState(id), 'failed', 'not failed by the outage');
        assert.equal((await q.getJob(id))?.attemptsMade ?? 0, 0, 'no attempt used');
      }
      assert.equal(await r1.hget('lookalike:run:7:failed', once), null);
      const admin = new pg.Client(server.url);
      await admin.connect();
      await admin.query(`CREATE DATABASE late_${process.pid}`);
      await admin.end();
      await latePg.migrate();
      await eventually(
        async () =>
          (await r1.sismember('lookalike:run:7:done', once)) === 1 &&
          (await r1.sismember('lookalike:run:8:done', other)) === 1,
        'both written once the database is back',
      );
      const stored = await storedVectors(latePg.store, NAME, real.weights);
      assert.deepEqual([...stored.keys()].sort(), [cat.items[3]!.file, cat.items[4]!.file].sort());
    } finally {
      await w.close();
      await q.close();
      conn.disconnect();
      r1.disconnect();
      await latePg.close();
    }
  });
});
