/**
 * The coordinator's wait for its jobs: every poll it reads the outcomes the workers logged
 * (run-log.ts) and settles its pending job ids; with no worker for `noWorkerTimeoutMs` while jobs
 * wait it gives up (REINDEX_NO_WORKERS: the jobs stay queued); when the queue is idle but ids are
 * still pending it asks BullMQ about them (failed → counted and recorded; gone → added again).
 */
import type { ProgressTracker } from '@lookalike/catalog';
import { type Logger, LookalikeError } from '@lookalike/core';
import type { Redis } from '@lookalike/redis';
import type { Queue } from 'bullmq';
import type { EmbedJobData } from './job.js';
import type { EmbedTask } from './plan.js';
import { type JobOutcome, readOutcomes, settledOutcomes } from './run-log.js';
import type { RunCounts } from './summary.js';

export interface WatchContext {
  redis: Redis;
  queue: Queue<EmbedJobData>;
  runId: number;
  /** Job id → its task; settled ids are dropped. */
  pending: Map<string, EmbedTask>;
  counts: RunCounts;
  tracker: ProgressTracker;
  pollMs: number;
  noWorkerTimeoutMs: number;
  logger: Logger;
  /** Adds the tasks' jobs (again). */
  enqueue(tasks: readonly EmbedTask[]): Promise<void>;
  /** Records a job BullMQ failed without a worker's report. */
  recordFailure(task: EmbedTask, code: string, message: string): Promise<void>;
  /** Why the wait must end now (lease lost, closing), or undefined. */
  stopReason(): LookalikeError | undefined;
  /** Called after each poll (publish progress, save counts). */
  onPoll(): Promise<void>;
}

const IDLE_TYPES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'] as const;

/** The code a worker put in front of its error message (`CODE: message`), else INTERNAL. */
export function codeOfReason(reason: string | undefined): string {
  return /^([A-Z][A-Z0-9_]+): /.exec(reason ?? '')?.[1] ?? 'INTERNAL';
}

function noWorkersError(ctx: WatchContext): LookalikeError {
  return new LookalikeError(
    'REINDEX_NO_WORKERS',
    `No embedding worker consumed the queue for ${ctx.noWorkerTimeoutMs} ms; ${ctx.pending.size} jobs stay queued (run ${ctx.runId})`,
    { details: { runId: ctx.runId, pending: ctx.pending.size, timeoutMs: ctx.noWorkerTimeoutMs } },
  );
}

/** Resolves once every pending job is settled. @throws REINDEX_NO_WORKERS, or `stopReason()` */
export async function watchJobs(ctx: WatchContext): Promise<void> {
  const { pending, counts, tracker } = ctx;
  let offset = 0;
  let done = 0;
  let noWorkersSince: number | undefined;
  const settle = (o: JobOutcome): void => {
    const task = pending.get(o.jobId);
    if (task === undefined) return;
    pending.delete(o.jobId);
    if (o.outcome === 'failed') {
      counts.failedTask(task);
      if (task.kind === 'added' && tracker.expected !== null) tracker.expected--;
      ctx.logger.debug({ path: task.sourceKey, code: o.code }, 'job failed');
    } else if (o.outcome === 'embedded') {
      counts.written(task);
      counts.embedded++;
    } else counts.superseded++;
    tracker.update(++done);
  };

  const reconcile = async (): Promise<void> => {
    const ids = [...pending.keys()];
    const known = await settledOutcomes(ctx.redis, ctx.runId, ids);
    for (const [jobId, s] of known) {
      settle(s.failed ? { jobId, outcome: 'failed', code: s.code, message: '' } : { jobId, outcome: 'embedded' });
    }
    const readd: EmbedTask[] = [];
    const left = ids.filter((id) => pending.has(id));
    const states = new Map<string, string>();
    for (let i = 0; i < left.length; i += 100) {
      const part = left.slice(i, i + 100);
      const got = await Promise.all(part.map((id) => ctx.queue.getJobState(id)));
      part.forEach((id, j) => {
        states.set(id, got[j]!);
      });
    }
    for (const jobId of left) {
      const task = pending.get(jobId)!;
      const state = states.get(jobId);
      if (state === 'unknown') readd.push(task);
      else if (state === 'completed') settle({ jobId, outcome: 'embedded' });
      else if (state === 'failed') {
        const job = await ctx.queue.getJob(jobId);
        if (job !== undefined && job.data?.runId === ctx.runId) {
          const reason = job.failedReason ?? 'failed';
          const code = codeOfReason(reason);
          await ctx.recordFailure(task, code, reason).catch((err: unknown) => {
            ctx.logger.warn({ err, path: task.sourceKey }, 'could not record a failed job');
          });
          settle({ jobId, outcome: 'failed', code, message: reason });
        } else {
          // Failed in an earlier run: this run tries again.
          await job?.remove();
          readd.push(task);
        }
      }
    }
    if (readd.length > 0) {
      ctx.logger.info({ jobs: readd.length }, 'adding jobs the queue no longer holds');
      await ctx.enqueue(readd);
    }
  };

  while (pending.size > 0) {
    const stop = ctx.stopReason();
    if (stop !== undefined) throw stop;
    try {
      for (;;) {
        const { outcomes, next } = await readOutcomes(ctx.redis, ctx.runId, offset);
        offset = next;
        for (const o of outcomes) settle(o);
        if (outcomes.length === 0) break;
      }
      if (pending.size === 0) break;
      const workers = await ctx.queue.getWorkersCount();
      if (workers > 0) noWorkersSince = undefined;
      else noWorkersSince ??= Date.now();
      if (noWorkersSince !== undefined && Date.now() - noWorkersSince >= ctx.noWorkerTimeoutMs) {
        throw noWorkersError(ctx);
      }
      const waiting = await ctx.queue.getJobCounts(...IDLE_TYPES);
      const busy = Object.values(waiting).reduce((a, b) => a + b, 0);
      if (busy === 0) await reconcile();
    } catch (err) {
      // "No worker" ends the wait; anything else (a Redis or PostgreSQL call that failed a moment,
      // a re-add included) is retried on the next poll: the lease decides when to give up.
      if (err instanceof LookalikeError && err.code === 'REINDEX_NO_WORKERS') throw err;
      ctx.logger.warn({ err }, 'polling the embedding jobs failed; retrying');
    }
    await ctx.onPoll();
    if (pending.size > 0) await new Promise((r) => setTimeout(r, ctx.pollMs));
  }
}
