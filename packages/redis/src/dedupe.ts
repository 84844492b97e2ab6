/**
 * "Answered once" across replicas, e.g. a Slack event retried to another replica, or a share that
 * arrives both as `message/file_share` and as `app_mention`.
 *
 * At-least-once, not at-most-once: a replica claims an event for a short processing ttl, and only
 * an answer (`done`) makes the claim last the full ttl. A replica that crashes while answering
 * stops holding the event after the processing ttl, and one that fails (`failed`) frees it at
 * once, so Slack's next retry (to any replica) is answered. The price: an answer that takes
 * longer than the processing ttl may be given twice.
 */
import { randomUUID } from 'node:crypto';
import { defineScript, type Redis } from './client.js';

export interface EventDeduperOptions {
  /** How long an answered event is remembered. @defaultValue 600 (Slack retries for about 5 minutes) */
  ttlSeconds?: number;
  /**
   * How long a claim lasts before it is answered: longer than the slowest answer, shorter than
   * Slack's first retries. @defaultValue 30
   */
  processingTtlSeconds?: number;
  /** Key prefix. @defaultValue 'lookalike:' */
  prefix?: string;
}

export interface EventDeduper {
  /**
   * True for the first caller of `key` (on any client of this Redis): it should answer, then call
   * `done` (or `failed`). False while another claim is being processed or after it was answered.
   */
  claim(key: string): Promise<boolean>;
  /**
   * The claimed event was answered: remember it for the full ttl. Also records an event whose
   * claim ran out meanwhile, unless another replica has claimed it since.
   */
  done(key: string): Promise<void>;
  /** Answering the claimed event failed: forget this deduper's claim, so a retry is answered. */
  failed(key: string): Promise<void>;
}

// KEYS[1] event; ARGV[1] this deduper's processing value, ARGV[2] ttl seconds.
const DONE = `
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], 'done', 'EX', ARGV[2])
  return 1
end
return 0
`;
// KEYS[1] event; ARGV[1] this deduper's processing value.
const FAILED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

const wholeSeconds = (n: number, name: string): number => {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`${name} must be a whole number of seconds ≥ 1`);
  return n;
};

export function createEventDeduper(redis: Redis, options: EventDeduperOptions = {}): EventDeduper {
  const ttl = wholeSeconds(options.ttlSeconds ?? 600, 'ttlSeconds');
  const processingTtl = wholeSeconds(options.processingTtlSeconds ?? Math.min(30, ttl), 'processingTtlSeconds');
  if (processingTtl > ttl) throw new RangeError('processingTtlSeconds must not exceed ttlSeconds');
  const prefix = options.prefix ?? 'lookalike:';
  // Claims carry this deduper's id, so `done`/`failed` never act on another replica's claim.
  const processing = `processing:${randomUUID()}`;
  const markDone = defineScript(redis, 'lookalikeDedupeDone', 1, DONE);
  const markFailed = defineScript(redis, 'lookalikeDedupeFailed', 1, FAILED);
  const keyOf = (key: string) => `${prefix}dedupe:${key}`;
  return {
    async claim(key) {
      return (await redis.set(keyOf(key), processing, 'EX', processingTtl, 'NX')) === 'OK';
    },
    async done(key) {
      await markDone(keyOf(key), processing, ttl);
    },
    async failed(key) {
      await markFailed(keyOf(key), processing);
    },
  };
}
