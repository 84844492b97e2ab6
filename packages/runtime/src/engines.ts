/**
 * The scale-out engines a process connects to when their URLs are set: PostgreSQL
 * (`DATABASE_URL`: a pool, migrated at start) and Redis (`REDIS_URL`: one shared client, pinged at
 * start). Either unreachable at start is a clear error naming the URL without its password.
 */
import { type Config, type Logger, LookalikeError } from '@lookalike/core';
import type { PgCatalog } from '@lookalike/pg';
import type { Redis } from '@lookalike/redis';

/** How long start-up waits for PostgreSQL's migrations or Redis's PING. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface Engines {
  /** With `DATABASE_URL`: the PostgreSQL catalog, migrated. */
  pg: PgCatalog | undefined;
  /** With `REDIS_URL`: the process's shared client (the limiter, claims, lease and progress). */
  redis: Redis | undefined;
  /** `REDIS_URL` itself (BullMQ opens its own connections on it). */
  redisUrl: string | undefined;
  /** Closes what was opened: the Redis client, then the pool. */
  close(): Promise<void>;
}

/** A URL as it may be shown: without its password (`postgres://shop:***@db:5432/shop`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Connects to the engines `config.scale` names; neither set: nothing is opened.
 * @throws LookalikeError DATABASE_UNAVAILABLE (PostgreSQL unreachable, or the migrations failed),
 *   REDIS_UNAVAILABLE (Redis does not answer PING within 10 s), CONFIG_INVALID (a database schema
 *   newer than this build)
 */
export async function openEngines(config: Pick<Config, 'scale'>, logger: Logger): Promise<Engines> {
  const { databaseUrl, redisUrl } = config.scale;
  let pg: PgCatalog | undefined;
  let redis: Redis | undefined;
  const close = async (): Promise<void> => {
    if (redis !== undefined) {
      const { closeRedis } = await import('@lookalike/redis');
      await closeRedis(redis);
    }
    await pg?.close();
  };
  try {
    if (databaseUrl !== undefined) pg = await openDatabase(databaseUrl, logger);
    if (redisUrl !== undefined) redis = await openRedis(redisUrl, logger);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { pg, redis, redisUrl, close };
}

async function openDatabase(url: string, logger: Logger): Promise<PgCatalog> {
  const { openPgCatalog } = await import('@lookalike/pg');
  const pg = openPgCatalog(url, { logger, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    const applied = await pg.migrate();
    if (applied.length > 0) logger.info({ applied }, 'PostgreSQL migrations applied');
    return pg;
  } catch (err) {
    await pg.close().catch(() => {});
    if (err instanceof LookalikeError) throw err;
    throw new LookalikeError(
      'DATABASE_UNAVAILABLE',
      `PostgreSQL at ${redactUrl(url)} is not reachable: ${messageOf(err)} (check DATABASE_URL)`,
      { cause: err },
    );
  }
}

async function openRedis(url: string, logger: Logger): Promise<Redis> {
  const { closeRedis, createRedisClient } = await import('@lookalike/redis');
  const redis = createRedisClient(url, { logger, connectionName: 'lookalike' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer to PING within ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
      }),
    ]);
    return redis;
  } catch (err) {
    await closeRedis(redis).catch(() => {});
    throw new LookalikeError(
      'REDIS_UNAVAILABLE',
      `Redis at ${redactUrl(url)} is not reachable: ${messageOf(err)} (check REDIS_URL)`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
