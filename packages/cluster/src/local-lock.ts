/**
 * Single flight of the local reindexer across processes: a session-level PostgreSQL advisory
 * lock on a dedicated pooled connection, held for the run (released with the session if the
 * process dies).
 */
import type { Logger } from '@lookalike/core';
import { checkout, type PgCatalog } from '@lookalike/pg';

export interface CatalogLock {
  release(): Promise<void>;
}

/** The lock of `catalog`'s reindex, or undefined when another session holds it. */
export async function tryLockReindex(pg: PgCatalog, catalog: string, logger: Logger): Promise<CatalogLock | undefined> {
  // Checked out with an error listener: a server restart during the run is logged, not a crash.
  const held = await checkout(pg.pool, logger, 'reindex lock');
  const { client } = held;
  let ok = false;
  try {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      `lookalike-reindex:${catalog}`,
    ]);
    ok = r.rows[0]?.ok === true;
  } catch (err) {
    held.release(err as Error);
    throw err;
  }
  if (!ok) {
    held.release();
    return undefined;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`lookalike-reindex:${catalog}`]);
        held.release();
      } catch (err) {
        // The session is gone (and its lock with it): drop the connection.
        held.release(err as Error);
      }
    },
  };
}
