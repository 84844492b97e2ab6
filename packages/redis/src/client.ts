/**
 * One way to open a Redis connection for lookalike: reconnects forever with a capped backoff,
 * queues commands while reconnecting (a bounded number of retries each), and logs connection
 * errors instead of letting ioredis print "Unhandled error event".
 */
import type { Logger } from '@lookalike/core';
import { silentLogger } from '@lookalike/core';
import { Redis } from 'ioredis';

export type { Redis } from 'ioredis';

export interface RedisClientOptions {
  logger?: Logger;
  /** Shown by `CLIENT LIST` (e.g. "lookalike-replica"). */
  connectionName?: string;
  /** Longest pause between reconnect attempts. @defaultValue 2000 */
  maxReconnectDelayMs?: number;
  /**
   * How many reconnect attempts a queued command waits through before it fails.
   * @defaultValue 10
   */
  maxRetriesPerRequest?: number;
}

/** Opens a client on `url` (`redis://` or `rediss://`). It connects in the background. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const logger = (options.logger ?? silentLogger).child({ component: 'redis' });
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const redis = new Redis(url, {
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 10,
    retryStrategy: (times: number) => Math.min(times * 100, maxDelay),
    enableOfflineQueue: true,
  });
  logConnectionErrors(redis, logger);
  return redis;
}

/**
 * Logs `redis`'s connection errors on `logger`: each distinct error once per outage (every failed
 * reconnect repeats the same one), and "back" once it is ready again. Also keeps ioredis from
 * printing "Unhandled error event".
 */
export function logConnectionErrors(redis: Redis, logger: Logger): void {
  const seen = new Set<string>();
  redis.on('error', (err: Error) => {
    if (seen.has(err.message)) return;
    seen.add(err.message);
    logger.warn({ err: err.message }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (seen.size > 0) logger.info('redis connection back');
    seen.clear();
  });
}

/** Closes a client: QUIT when connected (pending replies arrive first), else disconnects at once. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: the connection went away meanwhile
    }
  }
  redis.disconnect();
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script as a command on `redis` (ioredis `defineCommand`: EVALSHA, falling back to EVAL
 * when the server lost its script cache, e.g. after a restart).
 */
export function defineScript(redis: Redis, name: string, numberOfKeys: number, lua: string): ScriptFn {
  const commands = redis as unknown as Record<string, ScriptFn | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  const fn = commands[name];
  if (fn === undefined) throw new Error(`defineCommand did not define ${name}`);
  return (...args) => fn.apply(redis, args);
}
