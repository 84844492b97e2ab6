/**
 * Infrastructure failures as the reindexers report them: an error of a PostgreSQL or Redis call
 * that is not already a LookalikeError becomes DATABASE_UNAVAILABLE or REDIS_UNAVAILABLE (the
 * driver's error kept as the cause).
 */
import { LookalikeError } from '@lookalike/core';

/** Runs a PostgreSQL call; a driver error becomes DATABASE_UNAVAILABLE. */
export async function db<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof LookalikeError) throw err;
    throw new LookalikeError('DATABASE_UNAVAILABLE', `PostgreSQL: ${what} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Runs a Redis call; a driver error becomes REDIS_UNAVAILABLE. */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof LookalikeError) throw err;
    throw new LookalikeError('REDIS_UNAVAILABLE', `Redis: ${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The BAD_REQUEST of a `maxRemovals` that is not a non-negative integer, or undefined. */
export function maxRemovalsError(maxRemovals: number | undefined): LookalikeError | undefined {
  if (maxRemovals === undefined || (Number.isSafeInteger(maxRemovals) && maxRemovals >= 0)) return undefined;
  return new LookalikeError('BAD_REQUEST', `maxRemovals must be a non-negative integer, got ${String(maxRemovals)}`);
}
