/**
 * Where the workers report each job's outcome for the coordinator, in Redis, AFTER the PostgreSQL
 * commit (so a reported job is durably written): per run `lookalike:run:<runId>:done` (SET of
 * job ids embedded or superseded), `…:failed` (HASH job id → error code) and `…:log` (LIST of
 * outcomes in order, which the coordinator reads from an offset, so counting costs O(new
 * outcomes) per poll). Reporting is idempotent: a job reported twice counts once.
 */
import type { Redis } from '@lookalike/redis';

/** How long a run's outcome keys outlive their last write. */
export const RUN_KEYS_TTL_SECONDS = 7 * 24 * 3600;

export interface RunKeys {
  done: string;
  failed: string;
  log: string;
}

export function runKeys(runId: number, prefix = 'lookalike:'): RunKeys {
  const base = `${prefix}run:${runId}`;
  return { done: `${base}:done`, failed: `${base}:failed`, log: `${base}:log` };
}

/**
 * One job's outcome: `embedded` (written), `superseded` (the file or the item moved on since the
 * plan: nothing written, the next reindex re-plans it), or `failed` with the error code.
 */
export type JobOutcome =
  | { jobId: string; outcome: 'embedded' | 'superseded' }
  | { jobId: string; outcome: 'failed'; code: string; message: string };

/** Reports an outcome (one MULTI: set or hash, log, ttls). */
export async function reportOutcome(redis: Redis, runId: number, o: JobOutcome, prefix?: string): Promise<void> {
  const keys = runKeys(runId, prefix);
  const m = redis.multi();
  if (o.outcome === 'failed') m.hset(keys.failed, o.jobId, o.code);
  else m.sadd(keys.done, o.jobId);
  m.rpush(keys.log, JSON.stringify(o));
  for (const k of [keys.done, keys.failed, keys.log]) m.expire(k, RUN_KEYS_TTL_SECONDS);
  const results = await m.exec();
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
  if (results === null) throw new Error('Redis MULTI was discarded');
}

/**
 * Outcomes logged from `offset` on (up to `max`), and the offset after them. A log shorter than
 * `offset` (Redis restarted empty) is read again from its start.
 */
export async function readOutcomes(
  redis: Redis,
  runId: number,
  offset: number,
  max = 5000,
  prefix?: string,
): Promise<{ outcomes: JobOutcome[]; next: number }> {
  const key = runKeys(runId, prefix).log;
  if (offset > 0 && (await redis.llen(key)) < offset) offset = 0;
  const raw = await redis.lrange(key, offset, offset + max - 1);
  const outcomes: JobOutcome[] = [];
  for (const line of raw) {
    try {
      const o = JSON.parse(line) as JobOutcome;
      if (typeof o.jobId === 'string') outcomes.push(o);
    } catch {
      // Not ours: skipped.
    }
  }
  return { outcomes, next: offset + raw.length };
}

/**
 * What the done set and failed hash say about `jobIds` (for jobs the log has not shown, e.g. when
 * the log expired): done, failed with a code, or unknown (undefined).
 */
export async function settledOutcomes(
  redis: Redis,
  runId: number,
  jobIds: readonly string[],
  prefix?: string,
): Promise<Map<string, { failed: false } | { failed: true; code: string }>> {
  const keys = runKeys(runId, prefix);
  const out = new Map<string, { failed: false } | { failed: true; code: string }>();
  for (let i = 0; i < jobIds.length; i += 1000) {
    const part = jobIds.slice(i, i + 1000);
    const [done, failed] = await Promise.all([redis.smismember(keys.done, ...part), redis.hmget(keys.failed, ...part)]);
    part.forEach((id, j) => {
      const code = failed[j];
      if (code !== null && code !== undefined) out.set(id, { failed: true, code });
      else if (done[j] === 1) out.set(id, { failed: false });
    });
  }
  return out;
}
