/**
 * Per-user token buckets shared by every replica: the same semantics as core's
 * `createRateLimiter` (capacity = ratePerMinute, refilled continuously, one token per query),
 * kept in one Redis hash per user and updated atomically by a Lua script.
 *
 * rate-limiter-flexible was considered: its Redis limiter counts points per fixed window, which
 * is not a continuously refilled bucket, so decisions would differ from the embedded limiter.
 */
import type { RateDecision } from '@lookalike/core';
import { defineScript, type Redis } from './client.js';

export interface SharedRateLimiterOptions {
  /** Queries per minute per user (also the burst size). @defaultValue 5 */
  ratePerMinute?: number;
  /** Key prefix (several deployments may share one Redis). @defaultValue 'lookalike:' */
  prefix?: string;
  /**
   * Clock in milliseconds (tests inject their own). By default the Redis server's clock is used,
   * so replicas whose clocks disagree still share one consistent bucket.
   */
  now?: () => number;
}

/** The async counterpart of core's `RateLimiter`: one bucket per key, shared through Redis. */
export interface SharedRateLimiter {
  /** Takes one token for `key`. */
  take(key: string): Promise<RateDecision>;
}

const MINUTE_MS = 60_000;

// KEYS[1] bucket hash; ARGV: capacity, tokens per ms, now in ms (or '' for the server's clock).
// The bucket expires once it would be full again: an expired bucket and a full one are the same.
const TAKE_TOKEN = `
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * perMs)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', now))
local ttl = math.ceil((capacity - tokens) / perMs)
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], ttl)
return { allowed, math.floor(tokens), retry }
`;

/** Creates a rate limiter whose buckets live in Redis, shared by every client of that Redis. */
export function createSharedRateLimiter(redis: Redis, options: SharedRateLimiterOptions = {}): SharedRateLimiter {
  const capacity = options.ratePerMinute ?? 5;
  if (!(capacity >= 1)) throw new RangeError('ratePerMinute must be at least 1');
  const prefix = options.prefix ?? 'lookalike:';
  const now = options.now;
  const perMs = capacity / MINUTE_MS;
  const takeToken = defineScript(redis, 'lookalikeTakeToken', 1, TAKE_TOKEN);
  return {
    async take(key) {
      const reply = (await takeToken(
        `${prefix}rate:${key}`,
        capacity,
        perMs.toPrecision(17),
        now === undefined ? '' : Math.floor(now()),
      )) as [number, number, number];
      const [allowed, remaining, retryAfterMs] = reply;
      return allowed === 1
        ? { allowed: true, remaining, retryAfterMs: 0 }
        : { allowed: false, remaining: 0, retryAfterMs };
    },
  };
}
