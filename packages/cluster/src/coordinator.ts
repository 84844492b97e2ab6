/**
 * The reindexer of a process with `DATABASE_URL` and `REDIS_URL`: it plans, and the embedding
 * workers (`lookalike worker`, worker.ts) embed. One run at a time across processes (the Redis
 * lease `lookalike:lease:reindex:<catalog>`); a run a killed coordinator left `running` is
 * continued (same run id, `resumed`). prepare → removals and relabels → one BullMQ job per file
 * (content-derived ids: adding again is a no-op) → wait for the workers' outcomes
 * (coordinator-watch.ts), publishing progress every replica can read → finish the run row.
 */
import { ProgressTracker } from '@lookalike/catalog';
import {
  type Logger,
  LookalikeError,
  type ReindexProgress,
  type ReindexRunOptions,
  silentLogger,
} from '@lookalike/core';
import { acquireLease, closeRedis, createRedisClient, type LeaseLoss, type Redis } from '@lookalike/redis';
import { Queue } from 'bullmq';
import { watchJobs } from './coordinator-watch.js';
import { EMBED_JOB_NAME, type EmbedJobData, embedJobId, embedJobOptions, embedQueueName } from './job.js';
import { modelKey } from './model.js';
import type { EmbedTask } from './plan.js';
import { applyPrepared, closedError, type PrepareContext, prepareRun } from './prepare.js';
import { followProgress, progressName } from './run-progress.js';
import { RunCounts } from './summary.js';
import type { ClusterReindexSummary, CoordinatorOptions, Reindexer } from './types.js';
import { db, maxRemovalsError, redisCall } from './unavailable.js';

/** Jobs per `addBulk`. */
const ADD_CHUNK = 500;
/** First retry delay of a failed job attempt (doubled each attempt). */
const BACKOFF_MS = 1000;
const COUNTS_EVERY_MS = 5000;

/**
 * The BullMQ coordinator of a PostgreSQL catalog.
 * @throws (from run) REINDEX_IN_PROGRESS (details.progress: the running one's, from Redis),
 *   REINDEX_NO_WORKERS (the run stays `running`, its jobs queued: run again to follow it),
 *   REINDEX_MASS_REMOVAL, BAD_REQUEST (maxRemovals), CATALOG_NOT_FOUND, LABELS_INVALID,
 *   DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE (also: the lease could not be renewed), INTERNAL (closed)
 */
/** The Redis key of the reindex lease of `catalog` (acquireLease's default prefix). */
const leaseKey = (catalog: string): string => `lookalike:lease:${progressName(catalog)}`;

export function createCoordinator(o: CoordinatorOptions): Reindexer {
  const logger = (o.logger ?? silentLogger).child({ component: 'coordinator', catalog: o.name });
  const attempts = Math.max(1, o.attempts ?? 3);
  const noWorkerTimeoutMs = o.noWorkerTimeoutMs ?? 10_000;
  const leaseTtlMs = o.leaseTtlMs ?? 15_000;
  const pollMs = o.pollMs ?? 500;
  const model = modelKey(o.weights);
  // The published progress outlives a killed coordinator by about two lease periods.
  const shared = followProgress(o.redis, o.name, Math.max(2, Math.ceil((2 * leaseTtlMs) / 1000)), logger);
  let queueClient: Redis | undefined;
  let queue: Queue<EmbedJobData> | undefined;
  let running: Promise<ClusterReindexSummary> | undefined;
  let tracker: ProgressTracker | undefined;
  let closing = false;

  const getQueue = (): Queue<EmbedJobData> => {
    if (queue !== undefined) return queue;
    queueClient = createRedisClient(o.redisUrl, { logger, connectionName: 'lookalike-coordinator' });
    const q = new Queue<EmbedJobData>(embedQueueName(o.name), { connection: queueClient });
    q.on('error', (err: Error) => logger.warn({ err: err.message }, 'embedding queue error'));
    queue = q;
    return q;
  };

  const enqueue = async (runId: number, tasks: readonly EmbedTask[]): Promise<void> => {
    const q = getQueue();
    for (let i = 0; i < tasks.length; i += ADD_CHUNK) {
      const part = tasks.slice(i, i + ADD_CHUNK).map((task) => {
        const contentHash = task.contentHash!;
        const data: EmbedJobData = {
          catalog: o.name,
          sourceKey: task.sourceKey,
          contentHash,
          expectedHash: task.expectedHash,
          metadata: task.metadata,
          model,
          runId,
        };
        return {
          name: EMBED_JOB_NAME,
          data,
          opts: embedJobOptions(embedJobId(o.name, task.sourceKey, contentHash), { attempts, backoffMs: BACKOFF_MS }),
        };
      });
      await redisCall('adding embedding jobs', () => q.addBulk(part));
    }
  };

  const runOnce = async (
    onProgress: ((p: ReindexProgress) => void) | undefined,
    options: ReindexRunOptions,
    log: Logger,
  ): Promise<ClusterReindexSummary> => {
    const lease = await redisCall('taking the reindex lease', () =>
      acquireLease(o.redis, progressName(o.name), { ttlMs: leaseTtlMs }),
    );
    if (!lease.held) {
      const progress = await shared.read().catch(() => shared.current());
      throw new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex of this catalog is running in another process', {
        details: { progress },
      });
    }
    let lost: LeaseLoss | undefined;
    /** With 'taken': whether another holder has the key now (false: it vanished, e.g. Redis restarted empty). */
    let takenOver = true;
    void lease.lost.then(async (why) => {
      if (why === 'taken')
        takenOver = await o.redis.exists(leaseKey(o.name)).then(
          (n) => n > 0,
          () => false,
        );
      lost = why;
      log.warn({ why, takenOver }, 'reindex lease lost: stopping');
    });
    const stopReason = (): LookalikeError | undefined => {
      if (closing) return closedError();
      if (lost === 'taken') {
        return takenOver
          ? new LookalikeError('REINDEX_IN_PROGRESS', 'The reindex lease was taken over by another process')
          : new LookalikeError('REDIS_UNAVAILABLE', 'The reindex lease vanished from Redis (did it restart empty?)');
      }
      if (lost === 'unconfirmed') {
        return new LookalikeError('REDIS_UNAVAILABLE', 'The reindex lease could not be renewed: Redis unreachable');
      }
      return undefined;
    };
    let searchable = (): number => 0;
    const publish = (p: ReindexProgress | null): void => {
      if (lost !== undefined) return;
      shared.publish(p).catch((err: unknown) => log.debug({ err }, 'could not publish progress'));
    };
    const t = new ProgressTracker({
      startedAt: Date.now(),
      searchable: () => searchable(),
      emit: (p) => {
        publish(p);
        if (onProgress === undefined) return;
        try {
          onProgress(p);
        } catch (err) {
          log.warn({ err }, 'progress listener threw');
        }
      },
    });
    tracker = t;
    try {
      const ctx: PrepareContext = {
        pg: o.pg,
        catalog: o.name,
        model,
        imagesDir: o.imagesDir,
        labelsPath: o.labelsPath,
        tracker: t,
        logger: log,
        options,
        hashNew: true,
        closing: () => stopReason() !== undefined,
        onListed: (n) => {
          searchable = () => n;
        },
      };
      let prepared: Awaited<ReturnType<typeof prepareRun>>;
      try {
        prepared = await prepareRun(ctx);
      } catch (err) {
        throw stopReason() ?? err;
      }
      const stop = stopReason();
      if (stop !== undefined) throw stop;
      const c = new RunCounts(prepared);
      const previous = await db('reading runs', () => o.pg.store.runningRun(o.name));
      const resumed = previous !== undefined;
      const runId = previous?.id ?? (await db('starting a run', () => o.pg.store.startRun(o.name)));
      if (resumed) log.info({ runId }, 'resuming a run left running');
      await applyPrepared(ctx, prepared);

      const pending = new Map<string, EmbedTask>();
      for (const task of prepared.toEmbed) pending.set(embedJobId(o.name, task.sourceKey, task.contentHash!), task);
      searchable = () => prepared.searchable + c.newlySearchable;
      t.expected = prepared.expected;
      t.phase('embedding', pending.size);
      await enqueue(runId, prepared.toEmbed);
      log.info({ runId, jobs: pending.size, resumed }, 'embedding jobs queued');
      let countsSavedAt = Date.now();
      await watchJobs({
        redis: o.redis,
        queue: getQueue(),
        runId,
        pending,
        counts: c,
        tracker: t,
        pollMs,
        noWorkerTimeoutMs,
        logger: log,
        enqueue: (tasks) => enqueue(runId, tasks),
        recordFailure: (task, code, message) =>
          o.pg.store.recordFailure(o.name, {
            sourceKey: task.sourceKey,
            code,
            message,
            ...(task.contentHash === undefined ? {} : { contentHash: task.contentHash }),
          }),
        stopReason,
        onPoll: async () => {
          publish(t.current());
          if (Date.now() - countsSavedAt < COUNTS_EVERY_MS) return;
          countsSavedAt = Date.now();
          await o.pg.store.updateRunCounts(runId, c.record()).catch((err: unknown) => {
            log.warn({ err }, 'could not save the run counts');
          });
        },
      });
      await db('finishing the run', () => o.pg.store.finishRun(runId, 'done', c.record()));
      const version = await db('reading the version', () => o.pg.store.catalogVersion(o.name));
      const size = searchable();
      t.phase('done', size, size);
      const summary = c.summary({ startedAt: t.startedAt, runId, resumed, version });
      log.info({ ...summary, failedFiles: summary.failedFiles.slice(0, 5) }, 'reindex finished');
      return summary;
    } finally {
      // A run that did not finish stays `running`: its jobs are queued, the next run continues it.
      publish(null);
      await lease.release().catch((err: unknown) => log.debug({ err }, 'could not release the lease'));
    }
  };

  return {
    run(onProgress?: (p: ReindexProgress) => void, options: ReindexRunOptions = {}) {
      if (closing) return Promise.reject(new LookalikeError('INTERNAL', 'Reindexer is closed'));
      if (running !== undefined) {
        return Promise.reject(
          new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', {
            details: { progress: tracker?.current() ?? null },
          }),
        );
      }
      const bad = maxRemovalsError(options.maxRemovals);
      if (bad !== undefined) return Promise.reject(bad);
      const log = logger.child({ op: 'reindex' });
      const run = Promise.resolve()
        .then(() => runOnce(onProgress, options, log))
        .finally(() => {
          running = undefined;
          tracker = undefined;
        });
      running = run;
      return run;
    },
    progress() {
      return tracker?.current() ?? shared.current();
    },
    async close() {
      closing = true;
      await running?.catch(() => {});
      await shared.close();
      await queue?.close().catch(() => {});
      if (queueClient !== undefined) await closeRedis(queueClient);
    },
  };
}
