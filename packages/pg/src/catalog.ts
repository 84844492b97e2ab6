import { type Logger, LookalikeError, silentLogger } from '@lookalike/core';
import pg from 'pg';
import { runMigrations } from './migrations.js';
import { createPgStore } from './store.js';
import type { PgStore } from './store-types.js';

export interface PgCatalogOptions {
  logger?: Logger;
  /** Pool size (default 10). Listeners use their own connection, outside the pool. */
  maxConnections?: number;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

export interface PgCatalog {
  pool: pg.Pool;
  /** Applies pending migrations (advisory-locked: safe from many processes at once); returns the versions applied. */
  migrate(): Promise<number[]>;
  store: PgStore;
  /** True when a trivial query answers (for readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

/**
 * Opens the PostgreSQL catalog (`DATABASE_URL`) through a `pg` pool. Nothing is queried until
 * used: call `migrate()` at start. The pool survives a database restart (idle connections that
 * die are dropped and logged; the next query connects again).
 */
export function openPgCatalog(url: string, options: PgCatalogOptions = {}): PgCatalog {
  const logger = (options.logger ?? silentLogger).child({ component: 'pg' });
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new LookalikeError('CONFIG_INVALID', 'DATABASE_URL is not a URL');
  }
  if (scheme !== 'postgres:' && scheme !== 'postgresql:') {
    throw new LookalikeError('CONFIG_INVALID', `DATABASE_URL must be postgres:// or postgresql://, not ${scheme}//`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits here; without a handler the process would crash.
  pool.on('error', (err) => logger.warn({ err, url: redact(url) }, 'idle PostgreSQL connection lost'));
  const store = createPgStore(pool, url, logger);
  let closed = false;
  return {
    pool,
    store,
    migrate: () => runMigrations(pool, logger),
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
