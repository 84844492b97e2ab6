/**
 * A lease across processes (e.g. "one reindex at a time"): a key holding a random token with a
 * ttl. The holder's heartbeat extends the ttl only while the key still holds its token, and
 * release deletes it only then (both compare-and-act in Lua), so a holder that lost the lease
 * can never extend or free someone else's. A crashed holder stops beating: the lease frees
 * itself after `ttlMs`.
 *
 * The holder gives the lease up ('unconfirmed') before the key can expire: a one-shot timer is
 * armed at (the send time of the last confirmed SET or renewal) + ttl − a safety margin, on a
 * monotonic clock. The key's own expiry on the server starts no earlier than that send time.
 *
 * A lease alone cannot rule out two holders: a holder whose process stalls (GC, a blocked event
 * loop, a suspended VM) past its deadline acts before its timer can fire, and a Redis that
 * restarted empty forgets the key until the next heartbeat. Writes that must not overlap are
 * fenced with the token: store it with the work and make each write conditional on it.
 */
import { randomUUID } from 'node:crypto';
import { defineScript, type Redis } from './client.js';

export interface LeaseOptions {
  /** How long the lease outlives its holder's last confirmed renewal. */
  ttlMs: number;
  /** How often the holder extends it (under `ttlMs − safetyMarginMs`). @defaultValue ttlMs / 3 */
  heartbeatMs?: number;
  /**
   * How long before the key could expire the holder gives the lease up when no renewal was
   * confirmed (room for a late timer and clock drift). @defaultValue ttlMs / 10
   */
  safetyMarginMs?: number;
  /** Key prefix. @defaultValue 'lookalike:' */
  prefix?: string;
  /** Monotonic clock in milliseconds (tests inject their own). @defaultValue performance.now */
  now?: () => number;
}

/** Why a held lease was lost. */
export type LeaseLoss =
  /** The key no longer holds our token: it expired (a stalled holder) and may be someone else's. */
  | 'taken'
  /** No renewal was confirmed in time: the key may expire any moment, so assume it is gone. */
  | 'unconfirmed';

export interface Lease {
  readonly name: string;
  /** False when another holder had it: nothing else on this object does anything then. */
  readonly held: boolean;
  /** The random value stored in the key while this holder has it (fence writes with it). */
  readonly token: string;
  /** Successful heartbeats so far. */
  readonly renewals: number;
  /**
   * How much longer the lease is known to be ours (ms, by the monotonic clock): until the last
   * confirmed renewal's send time + ttl − safety margin. 0 once lost or released, or if not held.
   */
  readonly remainingMs: number;
  /**
   * Resolves when a held lease is lost involuntarily (the heartbeat stops then). Never resolves
   * for a lease that is released, nor for one that was not acquired.
   */
  readonly lost: Promise<LeaseLoss>;
  /**
   * Stops the heartbeat and deletes the key if it still holds our token (also after a loss, when
   * the key may still be ours). Safe to call twice.
   */
  release(): Promise<void>;
}

// KEYS[1] lease; ARGV[1] token, ARGV[2] ttl ms.
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** Tries once to take the lease `name`; look at `held`. */
export async function acquireLease(redis: Redis, name: string, options: LeaseOptions): Promise<Lease> {
  const ttlMs = Math.ceil(options.ttlMs);
  if (!(ttlMs >= 1)) throw new RangeError('ttlMs must be at least 1');
  const marginMs = options.safetyMarginMs ?? Math.floor(ttlMs / 10);
  if (!(marginMs >= 0 && marginMs < ttlMs)) throw new RangeError('safetyMarginMs must be between 0 and ttlMs');
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(ttlMs / 3));
  if (!(heartbeatMs >= 1 && heartbeatMs < ttlMs - marginMs)) {
    throw new RangeError('heartbeatMs must be at least 1 and under ttlMs − safetyMarginMs');
  }
  const now = options.now ?? (() => performance.now());
  const key = `${options.prefix ?? 'lookalike:'}lease:${name}`;
  const token = randomUUID();
  const extend = defineScript(redis, 'lookalikeLeaseExtend', 1, EXTEND);
  const del = defineScript(redis, 'lookalikeLeaseRelease', 1, RELEASE);

  // Taken before sending: the server starts the key's ttl no earlier than this.
  const askedAt = now();
  const held = (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
  let markLost!: (why: LeaseLoss) => void;
  const lost = new Promise<LeaseLoss>((resolve) => {
    markLost = resolve;
  });
  let renewals = 0;
  let done = !held;
  let inFlight = false;
  let released = false;
  // When the lease stops being certainly ours: last confirmed send time + ttl − margin.
  let deadline = askedAt + ttlMs - marginMs;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let expiry: ReturnType<typeof setTimeout> | undefined;

  const stop = (why: LeaseLoss | undefined): void => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    clearTimeout(expiry);
    if (why !== undefined) markLost(why);
  };

  // One-shot, re-armed by every confirmed renewal. Unref'd: a lease never keeps a process alive.
  const armExpiry = (): void => {
    clearTimeout(expiry);
    expiry = setTimeout(() => stop('unconfirmed'), Math.max(0, deadline - now()));
    expiry.unref();
  };

  const beat = async (): Promise<void> => {
    if (done || inFlight) return;
    inFlight = true;
    const sentAt = now();
    try {
      const ok = (await extend(key, token, ttlMs)) === 1;
      if (done) return;
      if (!ok) return stop('taken');
      renewals++;
      deadline = sentAt + ttlMs - marginMs;
      armExpiry();
    } catch {
      // Redis unreachable: keep trying; the expiry timer gives up once the deadline has passed.
    } finally {
      inFlight = false;
    }
  };

  if (held) {
    armExpiry();
    heartbeat = setInterval(() => void beat(), heartbeatMs);
    heartbeat.unref();
  }

  return {
    name,
    held,
    token,
    get renewals() {
      return renewals;
    },
    get remainingMs() {
      return done ? 0 : Math.max(0, deadline - now());
    },
    lost,
    async release() {
      stop(undefined);
      if (!held || released) return;
      released = true;
      // Compare-and-delete: harmless when the key already belongs to someone else.
      await del(key, token);
    },
  };
}
