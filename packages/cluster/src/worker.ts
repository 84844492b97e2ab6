/**
 * An embedding worker (`lookalike worker`): a BullMQ Worker on its catalog's queue (embedQueueName) that embeds the file
 * a job names and writes the item and its vector to PostgreSQL in one transaction (coalesced
 * with other jobs finished meanwhile, worker-writes.ts), then reports the outcome for the
 * coordinator (run-log.ts). No state outside Redis and PostgreSQL: any number of workers, in any
 * processes, and a job that runs twice after a stall stores once (equal writes are no-ops).
 *
 * - bad job data, a job of another catalog, a source key outside the images folder, or a job
 *   for other weights (WORKER_MODEL_MISMATCH): recorded as the item's failure, and the job fails
 *   for good (UnrecoverableError: no retry);
 * - the file's content is not the planned one: superseded (nothing written; the next reindex
 *   plans it again);
 * - a bad image (the catalog's skippable errors): recorded, not retried; a changed file that no
 *   longer decodes leaves the catalog (as in the SQLite catalog);
 * - anything else (PostgreSQL or Redis down…) throws: BullMQ retries with backoff, and the last
 *   attempt is reported failed.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { failureOf, isSkippable, sha256Hex } from '@lookalike/catalog';
import { LookalikeError, silentLogger } from '@lookalike/core';
import { closeRedis, createRedisClient } from '@lookalike/redis';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis as IORedis } from 'ioredis';
import { type EmbedJobData, embedQueueName, parseEmbedJob } from './job.js';
import { modelKey } from './model.js';
import { type JobOutcome, reportOutcome } from './run-log.js';
import type { EmbedWorker, WorkerOptions } from './types.js';
import { db, redisCall } from './unavailable.js';
import { createUpsertBatcher } from './worker-writes.js';

/** How long start-up waits for Redis. */
const READY_TIMEOUT_MS = 15_000;
/** How long the queue pauses when PostgreSQL is unavailable before the job is tried again. */
const DB_PAUSE_MS = 2000;

/** The job's source file under `imagesDir`, or undefined when the key would leave the folder. */
export function sourcePath(imagesDir: string, sourceKey: string): string | undefined {
  if (sourceKey.includes('\0') || isAbsolute(sourceKey)) return undefined;
  const root = resolve(imagesDir);
  const abs = resolve(root, sourceKey);
  const rel = relative(root, abs);
  if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) return undefined;
  return abs;
}

/** A job error whose message starts with its code (BullMQ keeps it as `failedReason`). */
function coded(code: string, message: string): Error {
  return new Error(`${code}: ${message}`);
}

function errorCode(err: unknown): string {
  return err instanceof LookalikeError ? err.code : 'INTERNAL';
}

/**
 * Starts consuming; resolves once connected.
 * @throws LookalikeError CONFIG_INVALID (no images folder), REDIS_UNAVAILABLE (not reachable in time)
 */
export async function startEmbedWorker(o: WorkerOptions): Promise<EmbedWorker> {
  const logger = (o.logger ?? silentLogger).child({ component: 'embed-worker', catalog: o.name });
  const imagesDir = o.imagesDir;
  if (imagesDir === undefined) {
    throw new LookalikeError('CONFIG_INVALID', 'An embedding worker needs the images folder (LOOKALIKE_CATALOG_DIR)');
  }
  const model = modelKey(o.weights);
  const store = o.pg.store;
  const batcher = createUpsertBatcher(store, o.name);
  const lockDuration = o.lockDurationMs ?? 30_000;
  const concurrency = o.concurrency ?? 16;
  // BullMQ duplicates this one for its own (blocking) connections, which need maxRetriesPerRequest null.
  const base = new IORedis(o.redisUrl, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectionName: 'lookalike-worker',
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
  });
  const results = createRedisClient(o.redisUrl, { logger, connectionName: 'lookalike-worker-results' });
  let processed = 0;
  /** True while jobs are put back because PostgreSQL is unavailable (logged once per outage). */
  let dbPaused = false;

  const report = (runId: number, outcome: JobOutcome) =>
    redisCall('reporting a job outcome', () => reportOutcome(results, runId, outcome));

  /**
   * Records a failure for good: the item's failure row, then the outcome. With `bestEffort` (the
   * last attempt of a job whose infrastructure failed) each step is tried even when the other fails.
   */
  const failForGood = async (
    job: Job,
    data: Partial<EmbedJobData>,
    code: string,
    message: string,
    { removeItem = false, bestEffort = false } = {},
  ): Promise<void> => {
    const { catalog, sourceKey } = data;
    const attempt = async (step: () => Promise<void>): Promise<void> => {
      if (!bestEffort) return step();
      await step().catch((err: unknown) => logger.warn({ err, jobId: job.id }, 'could not record the failed job'));
    };
    if (typeof catalog === 'string' && typeof sourceKey === 'string' && catalog !== '' && sourceKey !== '') {
      await attempt(async () => {
        if (removeItem) await db('removing an item', () => store.removeItems(catalog, [sourceKey]));
        const contentHash = typeof data.contentHash === 'string' ? data.contentHash : undefined;
        await db('recording a failure', () =>
          store.recordFailure(catalog, {
            sourceKey,
            code,
            message,
            ...(contentHash === undefined ? {} : { contentHash }),
          }),
        );
      });
    }
    const runId = data.runId;
    if (typeof runId === 'number' && Number.isSafeInteger(runId) && runId > 0) {
      await attempt(() => report(runId, { jobId: job.id!, outcome: 'failed', code, message }));
    }
    logger.debug({ jobId: job.id, path: sourceKey, code }, 'job failed for good');
  };

  const handle = async (job: Job): Promise<JobOutcome['outcome']> => {
    const jobId = job.id!;
    const parsed = parseEmbedJob(job.data);
    if (!parsed.ok) {
      await failForGood(job, (job.data ?? {}) as Partial<EmbedJobData>, 'BAD_REQUEST', parsed.error);
      throw new UnrecoverableError(`BAD_REQUEST: ${parsed.error}`);
    }
    const data = parsed.data;
    if (data.catalog !== o.name) {
      const message = `job of catalog "${data.catalog}"; this worker serves "${o.name}"`;
      await failForGood(job, data, 'CONFIG_INVALID', message);
      throw new UnrecoverableError(`CONFIG_INVALID: ${message}`);
    }
    if (data.model !== model) {
      const message = `job for vectors ${data.model}; this worker embeds with ${model}`;
      await failForGood(job, data, 'WORKER_MODEL_MISMATCH', message);
      throw new UnrecoverableError(`WORKER_MODEL_MISMATCH: ${message}`);
    }
    const path = sourcePath(imagesDir, data.sourceKey);
    if (path === undefined) {
      const message = `source key ${JSON.stringify(data.sourceKey)} is outside the images folder`;
      await failForGood(job, data, 'BAD_REQUEST', message);
      throw new UnrecoverableError(`BAD_REQUEST: ${message}`);
    }
    const contentChanged = data.expectedHash !== null && data.expectedHash !== data.contentHash;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (!isSkippable(err)) throw err;
      const f = failureOf(err);
      await failForGood(job, data, f.code, f.message);
      return 'failed';
    }
    if ((await sha256Hex(bytes)) !== data.contentHash) {
      await report(data.runId, { jobId, outcome: 'superseded' });
      return 'superseded';
    }
    // Already stored (its worker died after the commit, before the ack): not embedded twice.
    if (await db('checking the item', () => store.isEmbedded(data.catalog, data.sourceKey, data.contentHash, model))) {
      await report(data.runId, { jobId, outcome: 'embedded' });
      return 'embedded';
    }
    let vector: Float32Array | undefined;
    try {
      [vector] = await o.embedder.embed([bytes], { priority: 'batch' });
    } catch (err) {
      if (!isSkippable(err)) throw err;
      const f = failureOf(err);
      await failForGood(job, data, f.code, f.message, { removeItem: contentChanged });
      return 'failed';
    }
    if (vector === undefined) throw new Error('the embedder returned no vector');
    const written = await db('writing an item', () =>
      batcher.submit({
        sourceKey: data.sourceKey,
        contentHash: data.contentHash,
        expectedHash: data.expectedHash,
        metadata: { ...data.metadata },
        vector,
        model,
      }),
    );
    const outcome = written === 'written' ? 'embedded' : 'superseded';
    await report(data.runId, { jobId, outcome });
    return outcome;
  };

  const processor = async (job: Job): Promise<{ outcome: JobOutcome['outcome'] }> => {
    try {
      const outcome = await handle(job);
      processed++;
      dbPaused = false;
      return { outcome };
    } catch (err) {
      if (err instanceof UnrecoverableError) {
        processed++;
        throw err;
      }
      const code = errorCode(err);
      const message = (err as Error).message ?? String(err);
      if (code === 'DATABASE_UNAVAILABLE') {
        // Not the job's fault: the queue pauses and the job waits again, without using an attempt,
        // so a short PostgreSQL outage doesn't fail every job in flight for good.
        if (!dbPaused) logger.warn({ err: message, pauseMs: DB_PAUSE_MS }, 'PostgreSQL unavailable: pausing the queue');
        dbPaused = true;
        await worker.rateLimit(DB_PAUSE_MS);
        throw Worker.RateLimitError();
      }
      dbPaused = false;
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) {
        processed++;
        // Best effort: the database or Redis may be what failed.
        await failForGood(job, (job.data ?? {}) as Partial<EmbedJobData>, code, message, { bestEffort: true });
      }
      logger.warn({ err, jobId: job.id, attempt: job.attemptsMade + 1, last }, 'embedding job failed');
      throw coded(code, message);
    }
  };

  const worker = new Worker(embedQueueName(o.name), processor, {
    connection: base,
    concurrency,
    lockDuration,
    stalledInterval: Math.min(30_000, lockDuration),
    maxStalledCount: 2,
    autorun: false,
  });
  const seen = new Set<string>();
  // Each outage's errors are logged once: forgotten when the connection is back.
  base.on('ready', () => seen.clear());
  worker.on('error', (err: Error) => {
    if (seen.has(err.message)) return;
    seen.add(err.message);
    logger.warn({ err: err.message }, 'embedding worker error');
  });

  const closeAll = async (): Promise<void> => {
    await worker.close().catch((err: unknown) => logger.warn({ err }, 'closing the BullMQ worker failed'));
    await closeRedis(results);
    base.disconnect();
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      worker.waitUntilReady(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new LookalikeError('REDIS_UNAVAILABLE', `Redis not reachable within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    await closeAll();
    throw err instanceof LookalikeError
      ? err
      : new LookalikeError('REDIS_UNAVAILABLE', `Redis: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  void worker.run().catch((err: unknown) => logger.error({ err }, 'embedding worker stopped'));
  logger.info({ concurrency, model, lockDuration }, 'embedding worker ready');

  let closed: Promise<void> | undefined;
  return {
    processed: () => processed,
    close() {
      closed ??= closeAll();
      return closed;
    },
  };
}
