/**
 * A pooled connection checked out for a while (a transaction, a COPY, a session lock). pg-pool
 * stops listening for the client's errors while it is checked out, and pg emits `error` when the
 * server goes away mid-use (a restart, a failover, an idle cut): without a listener that is an
 * uncaught exception that ends the process. The listener logs it; the query in flight rejects on
 * its own, and `release` destroys the connection when it failed.
 */
import type { Logger } from '@lookalike/core';
import type pg from 'pg';

export interface CheckedOut {
  client: pg.PoolClient;
  /** The error the connection reported while checked out, if any. */
  readonly failed: Error | undefined;
  /** Gives the connection back (destroyed when `err` is given or it failed), once. */
  release(err?: Error): void;
}

export async function checkout(pool: pg.Pool, logger: Logger, what: string): Promise<CheckedOut> {
  const client = await pool.connect();
  let failed: Error | undefined;
  let released = false;
  const onError = (err: Error) => {
    failed ??= err;
    logger.warn({ err: err.message, during: what }, 'PostgreSQL connection lost while in use');
  };
  client.on('error', onError);
  return {
    client,
    get failed() {
      return failed;
    },
    release(err) {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      client.release(err ?? failed);
    },
  };
}
