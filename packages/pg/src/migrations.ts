import { type Logger, LookalikeError } from '@lookalike/core';
import type pg from 'pg';
import { checkout } from './checkout.js';

/** One schema step. Versions only grow; an applied migration is never edited, a new one is added. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The fixed key of the session-level advisory lock every process takes before migrating, so two
 * processes starting at once apply each migration exactly once (the second waits, then finds
 * nothing to do). Released with the session if the process dies.
 */
export const MIGRATION_LOCK_KEY = '7730871306281140011';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'catalog',
    sql: `
      CREATE TABLE catalogs (
        name text PRIMARY KEY,
        version bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE items (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        catalog text NOT NULL REFERENCES catalogs(name) ON DELETE CASCADE,
        source_key text NOT NULL,
        content_hash text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        version bigint NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (catalog, source_key)
      );
      CREATE INDEX items_catalog_version ON items (catalog, version);
      CREATE TABLE vectors (
        item_id bigint NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        model text NOT NULL,
        vector bytea NOT NULL,
        version bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (item_id, model)
      );
      ALTER TABLE vectors ALTER COLUMN vector SET STORAGE EXTERNAL;
      CREATE INDEX vectors_model_version ON vectors (model, version);
      CREATE TABLE item_failures (
        catalog text NOT NULL REFERENCES catalogs(name) ON DELETE CASCADE,
        source_key text NOT NULL,
        content_hash text,
        code text NOT NULL,
        message text NOT NULL,
        attempts integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (catalog, source_key)
      );
      CREATE TABLE reindex_runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        catalog text NOT NULL REFERENCES catalogs(name) ON DELETE CASCADE,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
        counts jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX reindex_runs_catalog ON reindex_runs (catalog, started_at DESC);
    `,
  },
  {
    version: 2,
    name: 'feedback',
    sql: `
      CREATE TABLE feedback_answers (
        surface text NOT NULL,
        message_key text NOT NULL,
        request_id text NOT NULL,
        result_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (surface, message_key)
      );
      CREATE INDEX feedback_answers_at ON feedback_answers (at);
      CREATE TABLE feedback_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('up', 'down', 'more')),
        surface text NOT NULL,
        message_key text NOT NULL,
        request_id text NOT NULL,
        result_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
        item_id text NOT NULL DEFAULT '',
        user_hash text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (surface, message_key, user_hash, kind, item_id)
      );
      CREATE INDEX feedback_events_at ON feedback_events (at);
    `,
  },
];

/**
 * Applies the pending migrations, each in its own transaction, under the advisory lock on a
 * dedicated client. Safe to call from any number of processes at once. Returns the versions it
 * applied (empty when the schema was already current).
 */
export async function runMigrations(
  pool: pg.Pool,
  logger: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const held = await checkout(pool, logger, 'migrations');
  const { client } = held;
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const newest = Math.max(0, ...done);
      if (newest > known) {
        throw new LookalikeError(
          'CONFIG_INVALID',
          `database schema version ${newest} is newer than this build knows (${known}): upgrade lookalike`,
        );
      }
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
        applied.push(m.version);
        logger.info({ version: m.version, name: m.name }, 'database migration applied');
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch((err: Error) => {
        broken = err;
      });
    }
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    // A client whose session may still hold the lock (or is broken) is destroyed, not pooled.
    held.release(broken);
  }
}
