/**
 * Per-user token buckets: `ratePerMinute` queries per minute, refilled continuously.
 * Memory stays bounded: buckets that have refilled completely are forgotten, and at most
 * `maxBuckets` are kept (least recently used first out).
 */

export interface RateLimiterOptions {
  /** Queries per minute per user (also the burst size). @defaultValue 5 */
  ratePerMinute?: number;
  /** Clock in milliseconds (tests inject their own). @defaultValue Date.now */
  now?: () => number;
  /** Upper bound on remembered users. @defaultValue 10000 */
  maxBuckets?: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Tokens left after this call. */
  remaining: number;
  /** When not allowed: milliseconds until one token is back. 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Takes one token for `key`. */
  take(key: string): RateDecision;
  /** Number of buckets held in memory. */
  size(): number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const MINUTE_MS = 60_000;

/** Creates a token-bucket rate limiter keyed by user id. */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const capacity = options.ratePerMinute ?? 5;
  if (!(capacity >= 1)) throw new RangeError('ratePerMinute must be at least 1');
  const now = options.now ?? Date.now;
  const maxBuckets = options.maxBuckets ?? 10_000;
  const perMs = capacity / MINUTE_MS;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  const refill = (b: Bucket, t: number): void => {
    const elapsed = Math.max(0, t - b.updatedAt);
    b.tokens = Math.min(capacity, b.tokens + elapsed * perMs);
    b.updatedAt = t;
  };

  const sweep = (t: number): void => {
    // A bucket idle long enough to be full again carries no information.
    for (const [key, b] of buckets) {
      if (b.tokens + (t - b.updatedAt) * perMs >= capacity) buckets.delete(key);
    }
    lastSweep = t;
  };

  return {
    take(key) {
      const t = now();
      if (t - lastSweep >= MINUTE_MS) sweep(t);
      let b = buckets.get(key);
      if (b === undefined) {
        b = { tokens: capacity, updatedAt: t };
      } else {
        buckets.delete(key); // re-inserted below: Map order doubles as LRU order
        refill(b, t);
      }
      buckets.set(key, b);
      while (buckets.size > maxBuckets) {
        const oldest = buckets.keys().next().value;
        if (oldest === undefined) break;
        buckets.delete(oldest);
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { allowed: true, remaining: Math.floor(b.tokens), retryAfterMs: 0 };
      }
      return { allowed: false, remaining: 0, retryAfterMs: Math.ceil((1 - b.tokens) / perMs) };
    },
    size: () => buckets.size,
  };
}

/**
 * A limiter whose buckets live elsewhere (@lookalike/redis `createSharedRateLimiter`: one bucket
 * per user for every replica), hence async.
 */
export interface AsyncRateLimiter {
  /** Takes one token for `key`. */
  take(key: string): Promise<RateDecision>;
}
