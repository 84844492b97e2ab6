/**
 * Live progress every replica can show (e.g. a reindex run): the latest value is a JSON string
 * with a ttl (so a crashed run's progress fades), and each update is also published on a channel
 * for replicas that edit a message as it moves.
 */
import type { Logger } from '@lookalike/core';
import { silentLogger } from '@lookalike/core';
import { closeRedis, logConnectionErrors, type Redis } from './client.js';

export interface ProgressOptions {
  /** Key and channel prefix. @defaultValue 'lookalike:' */
  prefix?: string;
}

export interface PublishProgressOptions extends ProgressOptions {
  /** How long the latest value outlives its last update. @defaultValue 3600 */
  ttlSeconds?: number;
}

const keyOf = (name: string, o: ProgressOptions) => `${o.prefix ?? 'lookalike:'}progress:${name}`;
const channelOf = (name: string, o: ProgressOptions) => `${o.prefix ?? 'lookalike:'}progress-updates:${name}`;

/** Stores `value` (JSON-serialisable) as the latest progress of `name` and publishes it. */
export async function publishProgress(
  redis: Redis,
  name: string,
  value: unknown,
  options: PublishProgressOptions = {},
): Promise<void> {
  const ttl = options.ttlSeconds ?? 3600;
  if (!(Number.isInteger(ttl) && ttl >= 1)) throw new RangeError('ttlSeconds must be a whole number of seconds ≥ 1');
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('progress must be JSON-serialisable');
  const results = await redis
    .multi()
    .set(keyOf(name, options), json, 'EX', ttl)
    .publish(channelOf(name, options), json)
    .exec();
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
}

/** The latest progress of `name`, or undefined when there is none (never published, or expired). */
export async function readProgress<T = unknown>(
  redis: Redis,
  name: string,
  options: ProgressOptions = {},
): Promise<T | undefined> {
  const json = await redis.get(keyOf(name, options));
  return json === null ? undefined : (JSON.parse(json) as T);
}

export interface SubscribeProgressOptions extends ProgressOptions {
  /**
   * Where the subscription logs its connection errors (each distinct one once per outage), a
   * callback that threw or rejected, and updates that are not JSON.
   */
  logger?: Logger;
}

export interface ProgressSubscription {
  /** Unsubscribes and closes the subscription's own connection. */
  close(): Promise<void>;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  (typeof v === 'object' || typeof v === 'function') &&
  v !== null &&
  typeof (v as { then?: unknown }).then === 'function';

/**
 * Calls `onProgress` with every update of `name` published from now on (on a connection of its
 * own, duplicated from `redis`; it resubscribes by itself after a reconnect). Updates published
 * while it was disconnected are not replayed: read the latest with `readProgress`. A callback that
 * throws (or returns a promise that rejects) is logged, and later updates still reach it.
 */
export async function subscribeProgress<T = unknown>(
  redis: Redis,
  name: string,
  onProgress: (value: T) => unknown,
  options: SubscribeProgressOptions = {},
): Promise<ProgressSubscription> {
  const channel = channelOf(name, options);
  const logger = (options.logger ?? silentLogger).child({ component: 'redis-progress', progress: name });
  const sub = redis.duplicate();
  logConnectionErrors(sub, logger);
  const callbackFailed = (err: unknown): void => {
    logger.error({ err }, 'progress callback failed');
  };
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let value: T;
    try {
      value = JSON.parse(message) as T;
    } catch {
      logger.warn({ message: message.slice(0, 200) }, 'progress update is not JSON: ignored');
      return;
    }
    // Runs inside ioredis's 'message' emit: nothing may escape from here.
    try {
      const result = onProgress(value);
      if (isThenable(result)) result.then(undefined, callbackFailed);
    } catch (err) {
      callbackFailed(err);
    }
  });
  try {
    await sub.subscribe(channel);
  } catch (err) {
    sub.disconnect();
    throw err;
  }
  return { close: () => closeRedis(sub) };
}
