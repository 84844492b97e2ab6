/**
 * The PostgreSQL catalog store (`createPgStore`): versioned writes that stamp changed rows and
 * NOTIFY, per-model reads of what changed since a version, binary-COPY vector loads, failures and
 * reindex runs. The shapes are in store-types.ts.
 */
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@lookalike/core';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { checkout } from './checkout.js';
import { CATALOG_CHANNEL, listenCatalogVersions } from './listen.js';
import type {
  ItemInput,
  PgStore,
  ReindexRun,
  RelabelInput,
  RemovedItem,
  RunStatus,
  StaleItem,
  StoredItem,
} from './store-types.js';
import { CopyVectorDecoder, decodeVector, encodeVector } from './vectors.js';

/** Rows per INSERT statement of a batch (all in the batch's one transaction). */
const ROWS_PER_STATEMENT = 500;

/**
 * Runs `body` in one transaction on a pooled client. A body that leaves the connection unusable
 * (a COPY that failed midway is still in COPY OUT: a ROLLBACK would wait forever) calls
 * `abandon(err)`: the client is then destroyed instead of rolled back, and the server aborts the
 * transaction when its socket closes.
 */
async function inTransaction<T>(
  pool: pg.Pool,
  logger: Logger,
  begin: string,
  body: (client: pg.PoolClient, abandon: (err: Error) => void) => Promise<T>,
): Promise<T> {
  const held = await checkout(pool, logger, begin);
  const { client } = held;
  let broken: Error | undefined;
  const abandon = (err: Error) => {
    broken ??= err;
  };
  try {
    await client.query(begin);
    const out = await body(client, abandon);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    if (broken === undefined && held.failed === undefined) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
    }
    throw err;
  } finally {
    held.release(broken);
  }
}

/**
 * Locks the catalog's row (creating it) and returns its version: writers of a catalog go one at a
 * time, so versions commit in order. NO KEY UPDATE leaves foreign-key checks (failures, runs) unblocked.
 */
async function lockCatalog(client: pg.PoolClient, catalog: string): Promise<number> {
  await client.query('INSERT INTO catalogs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [catalog]);
  const r = await client.query<{ version: string }>('SELECT version FROM catalogs WHERE name = $1 FOR NO KEY UPDATE', [
    catalog,
  ]);
  return Number(r.rows[0]!.version);
}

async function bump(client: pg.PoolClient, catalog: string, version: number): Promise<void> {
  await client.query('UPDATE catalogs SET version = $2, updated_at = now() WHERE name = $1', [catalog, version]);
  // Delivered at commit, in commit order, to every listening connection.
  await client.query('SELECT pg_notify($1, $2)', [CATALOG_CHANNEL, JSON.stringify({ catalog, version })]);
}

interface RunRow {
  id: string;
  catalog: string;
  started_at: Date;
  finished_at: Date | null;
  status: RunStatus;
  counts: Record<string, number>;
}

const RUN_COLUMNS = 'id, catalog, started_at, finished_at, status, counts';

function runOf(row: RunRow | undefined): ReindexRun | undefined {
  if (row === undefined) return undefined;
  return {
    id: Number(row.id),
    catalog: row.catalog,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? undefined,
    status: row.status,
    counts: row.counts,
  };
}

export function createPgStore(pool: pg.Pool, url: string, logger: Logger): PgStore {
  return {
    async catalogVersion(catalog) {
      const r = await pool.query<{ version: string }>('SELECT version FROM catalogs WHERE name = $1', [catalog]);
      return r.rows[0] === undefined ? 0 : Number(r.rows[0].version);
    },

    async upsertItems(catalog, rows) {
      // The last row of a source key wins (one statement may not touch a row twice).
      const byKey = new Map<string, ItemInput>();
      for (const row of rows) byKey.set(row.sourceKey, row);
      const unique = [...byKey.values()];
      return inTransaction(pool, logger, 'BEGIN', async (client) => {
        // Every writer of the catalog holds its row lock until commit: nothing else changes these
        // items between the statements below.
        const current = await lockCatalog(client, catalog);
        const next = current + 1;
        const changedIds = new Set<string>();
        const stale: StaleItem[] = [];
        const settled: string[] = [];
        for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
          const part = unique.slice(i, i + ROWS_PER_STATEMENT);
          const byPartKey = new Map(part.map((p) => [p.sourceKey, p]));
          // New items are inserted; an existing item is written only while it is still as the
          // writer's plan saw it (the expected hash; null: removed). Rows whose content, metadata
          // and liveness are already those are left as they are (their vector may still change).
          const r = await client.query<{ id: string; k: string; content_changed: boolean; item_changed: boolean }>(
            `WITH u AS (
               SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(k, h, e, m)
             ), cur AS (
               SELECT u.*, i.id, i.content_hash, i.metadata, i.deleted
                 FROM u LEFT JOIN items i ON i.catalog = $1 AND i.source_key = u.k
             ), ins AS (
               INSERT INTO items (catalog, source_key, content_hash, metadata, version)
               SELECT $1, k, h, m::jsonb, $6 FROM cur WHERE id IS NULL
               RETURNING id, source_key
             ), ok AS (
               SELECT id, k, h, m::jsonb AS m, deleted OR content_hash <> h AS content_changed,
                      deleted OR content_hash <> h OR metadata <> m::jsonb AS item_changed
                 FROM cur
                WHERE id IS NOT NULL
                  AND CASE WHEN e IS NULL THEN deleted ELSE NOT deleted AND content_hash = e END
             ), upd AS (
               UPDATE items AS i SET content_hash = ok.h, metadata = ok.m, deleted = false, version = $6,
                      updated_at = now()
                 FROM ok WHERE i.id = ok.id AND ok.item_changed
             )
             SELECT id, source_key AS k, true AS content_changed, true AS item_changed FROM ins
             UNION ALL
             SELECT id, k, content_changed, item_changed FROM ok`,
            [
              catalog,
              part.map((p) => p.sourceKey),
              part.map((p) => p.contentHash),
              part.map((p) => p.expectedHash),
              part.map((p) => JSON.stringify(p.metadata)),
              next,
            ],
          );
          const accepted = r.rows.map((row) => ({ ...row, input: byPartKey.get(row.k)! }));
          for (const a of accepted) {
            if (a.item_changed) changedIds.add(a.id);
            settled.push(a.k);
          }
          if (accepted.length > 0) {
            // This model's vector; another model's vector of the old content no longer describes the item.
            const written = await client.query<{ item_id: string }>(
              `INSERT INTO vectors AS x (item_id, model, vector, version)
               SELECT a.id, a.md, a.v, $4 FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS a(id, md, v)
               ON CONFLICT (item_id, model) DO UPDATE
                 SET vector = EXCLUDED.vector, version = EXCLUDED.version, updated_at = now()
                 WHERE x.vector <> EXCLUDED.vector
               RETURNING item_id`,
              [
                accepted.map((a) => a.id),
                accepted.map((a) => a.input.model),
                accepted.map((a) => encodeVector(a.input.vector)),
                next,
              ],
            );
            for (const w of written.rows) changedIds.add(w.item_id);
            const moved = accepted.filter((a) => a.content_changed);
            if (moved.length > 0) {
              await client.query(
                `DELETE FROM vectors AS x USING unnest($1::bigint[], $2::text[]) AS d(id, md)
                  WHERE x.item_id = d.id AND x.model <> d.md`,
                [moved.map((a) => a.id), moved.map((a) => a.input.model)],
              );
            }
          }
          // The rest: already exactly this (a retried job: unchanged), or stale.
          const acceptedKeys = new Set(accepted.map((a) => a.k));
          const rest = part.filter((p) => !acceptedKeys.has(p.sourceKey));
          if (rest.length > 0) {
            const left = await client.query<{ k: string; content_hash: string; deleted: boolean; same: boolean }>(
              `SELECT u.k, i.content_hash, i.deleted,
                      COALESCE(NOT i.deleted AND i.content_hash = u.h AND i.metadata = u.m::jsonb AND x.vector = u.v, false) AS same
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) AS u(k, h, m, md, v)
                 JOIN items i ON i.catalog = $1 AND i.source_key = u.k
                 LEFT JOIN vectors x ON x.item_id = i.id AND x.model = u.md`,
              [
                catalog,
                rest.map((p) => p.sourceKey),
                rest.map((p) => p.contentHash),
                rest.map((p) => JSON.stringify(p.metadata)),
                rest.map((p) => p.model),
                rest.map((p) => encodeVector(p.vector)),
              ],
            );
            for (const row of left.rows) {
              if (row.same) settled.push(row.k);
              else stale.push({ sourceKey: row.k, contentHash: row.deleted ? null : row.content_hash });
            }
          }
        }
        // A written (or already written) item's failure is over; a stale job's is not news.
        await client.query('DELETE FROM item_failures WHERE catalog = $1 AND source_key = ANY($2::text[])', [
          catalog,
          settled,
        ]);
        if (stale.length > 0) logger.debug({ catalog, stale: stale.length }, 'stale item writes skipped');
        const changed = changedIds.size;
        if (changed === 0) return { version: current, changed, stale };
        await bump(client, catalog, next);
        return { version: next, changed, stale };
      });
    },

    async removeItems(catalog, sourceKeys) {
      const keys = [...new Set(sourceKeys)];
      return inTransaction(pool, logger, 'BEGIN', async (client) => {
        const current = await lockCatalog(client, catalog);
        const next = current + 1;
        const r = await client.query<{ id: string }>(
          `UPDATE items SET deleted = true, version = $3, updated_at = now()
            WHERE catalog = $1 AND source_key = ANY($2::text[]) AND NOT deleted
            RETURNING id`,
          [catalog, keys, next],
        );
        await client.query('DELETE FROM vectors WHERE item_id = ANY($1::bigint[])', [r.rows.map((row) => row.id)]);
        await client.query('DELETE FROM item_failures WHERE catalog = $1 AND source_key = ANY($2::text[])', [
          catalog,
          keys,
        ]);
        const changed = r.rowCount ?? 0;
        if (changed === 0) return { version: current, changed };
        await bump(client, catalog, next);
        return { version: next, changed };
      });
    },

    async isEmbedded(catalog, sourceKey, contentHash, model) {
      const r = await pool.query(
        `SELECT 1 FROM items i JOIN vectors x ON x.item_id = i.id AND x.model = $4
          WHERE i.catalog = $1 AND i.source_key = $2 AND i.content_hash = $3 AND NOT i.deleted`,
        [catalog, sourceKey, contentHash, model],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async listItems(catalog, model) {
      const r = await pool.query<{
        source_key: string;
        content_hash: string;
        metadata: Record<string, unknown>;
        embedded: boolean;
      }>(
        `SELECT i.source_key, i.content_hash, i.metadata,
                EXISTS (SELECT 1 FROM vectors x WHERE x.item_id = i.id AND x.model = $2) AS embedded
           FROM items i WHERE i.catalog = $1 AND NOT i.deleted ORDER BY i.source_key`,
        [catalog, model],
      );
      return r.rows.map((row) => ({
        sourceKey: row.source_key,
        contentHash: row.content_hash,
        metadata: row.metadata,
        embedded: row.embedded,
      }));
    },

    async relabelItems(catalog, rows) {
      // The last row of a source key wins (one statement may not touch a row twice).
      const byKey = new Map<string, RelabelInput>();
      for (const row of rows) byKey.set(row.sourceKey, row);
      const unique = [...byKey.values()];
      return inTransaction(pool, logger, 'BEGIN', async (client) => {
        const current = await lockCatalog(client, catalog);
        const next = current + 1;
        let changed = 0;
        for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
          const part = unique.slice(i, i + ROWS_PER_STATEMENT);
          // Only a live item still holding the planned content, and only when its metadata differs.
          const r = await client.query(
            `UPDATE items AS i SET metadata = u.m::jsonb, version = $5, updated_at = now()
               FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, e, m)
              WHERE i.catalog = $1 AND i.source_key = u.k AND NOT i.deleted AND i.content_hash = u.e
                AND i.metadata <> u.m::jsonb`,
            [
              catalog,
              part.map((p) => p.sourceKey),
              part.map((p) => p.expectedHash),
              part.map((p) => JSON.stringify(p.metadata)),
              next,
            ],
          );
          changed += r.rowCount ?? 0;
        }
        if (changed === 0) return { version: current, changed };
        await bump(client, catalog, next);
        return { version: next, changed };
      });
    },

    async liveItems(catalog) {
      const r = await pool.query<{
        id: string;
        source_key: string;
        metadata: Record<string, unknown>;
        version: string;
      }>('SELECT id, source_key, metadata, version FROM items WHERE catalog = $1 AND NOT deleted ORDER BY id', [
        catalog,
      ]);
      return r.rows.map((row) => ({
        id: Number(row.id),
        sourceKey: row.source_key,
        metadata: row.metadata,
        version: Number(row.version),
      }));
    },

    async changesSince(catalog, since, model) {
      return inTransaction(pool, logger, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
        const v = await client.query<{ version: string }>('SELECT version FROM catalogs WHERE name = $1', [catalog]);
        const version = v.rows[0] === undefined ? 0 : Number(v.rows[0].version);
        // Items changed since (with this model's vector, if any), and this model's vectors written
        // since on items otherwise unchanged (a re-embed).
        const r = await client.query<{
          id: string;
          source_key: string;
          content_hash: string;
          metadata: Record<string, unknown>;
          vector: Buffer | null;
          version: string;
        }>(
          `SELECT i.id, i.source_key, i.content_hash, i.metadata, x.vector,
                  GREATEST(i.version, COALESCE(x.version, 0)) AS version
             FROM items i LEFT JOIN vectors x ON x.item_id = i.id AND x.model = $3
            WHERE i.catalog = $1 AND i.version > $2
           UNION ALL
           SELECT i.id, i.source_key, i.content_hash, i.metadata, x.vector, x.version
             FROM vectors x JOIN items i ON i.id = x.item_id
            WHERE x.model = $3 AND x.version > $2 AND i.catalog = $1 AND i.version <= $2
           ORDER BY version, id`,
          [catalog, since, model],
        );
        const upserts: StoredItem[] = [];
        const removals: RemovedItem[] = [];
        for (const row of r.rows) {
          // A vector exists only for a live item's current content (removals and content changes drop them).
          if (row.vector === null) {
            removals.push({ id: Number(row.id), sourceKey: row.source_key, version: Number(row.version) });
          } else {
            upserts.push({
              id: Number(row.id),
              sourceKey: row.source_key,
              contentHash: row.content_hash,
              metadata: row.metadata,
              vector: decodeVector(row.vector),
              version: Number(row.version),
            });
          }
        }
        return { since, version, upserts, removals };
      });
    },

    async loadVectors(catalog, model, onChunk, options = {}) {
      return inTransaction(pool, logger, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client, abandon) => {
        // The version and the COPY read the same snapshot.
        const v = await client.query<{ version: string }>('SELECT version FROM catalogs WHERE name = $1', [catalog]);
        const version = v.rows[0] === undefined ? 0 : Number(v.rows[0].version);
        // COPY takes no parameters: the values are quoted by the driver.
        const sql = `COPY (SELECT x.item_id, x.vector FROM vectors x JOIN items i ON i.id = x.item_id
          WHERE i.catalog = ${client.escapeLiteral(catalog)} AND x.model = ${client.escapeLiteral(model)}
          AND NOT i.deleted ORDER BY x.item_id) TO STDOUT (FORMAT binary)`;
        const decoder = new CopyVectorDecoder(onChunk, options.chunkBytes);
        const copy = client.query(copyTo(sql));
        try {
          await pipeline(copy, decoder);
        } catch (err) {
          // The connection may still be in COPY OUT (onChunk threw, or the data was refused): it is
          // destroyed, not rolled back. A later error of the COPY stream (its socket closing) is expected.
          copy.on('error', () => {});
          abandon(err as Error);
          throw err;
        }
        logger.debug({ catalog, model, rows: decoder.rows, version }, 'vectors loaded');
        return { version, rows: decoder.rows, dimension: decoder.dimension };
      });
    },

    listen(onVersion, options) {
      return listenCatalogVersions(url, onVersion, logger, options);
    },

    async recordFailure(catalog, failure) {
      await pool.query('INSERT INTO catalogs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [catalog]);
      await pool.query(
        `INSERT INTO item_failures AS f (catalog, source_key, content_hash, code, message)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (catalog, source_key) DO UPDATE
           SET content_hash = EXCLUDED.content_hash, code = EXCLUDED.code, message = EXCLUDED.message,
               attempts = f.attempts + 1, updated_at = now()`,
        [catalog, failure.sourceKey, failure.contentHash ?? null, failure.code, failure.message],
      );
    },

    async failures(catalog) {
      const r = await pool.query<{
        source_key: string;
        content_hash: string | null;
        code: string;
        message: string;
        attempts: number;
      }>(
        'SELECT source_key, content_hash, code, message, attempts FROM item_failures WHERE catalog = $1 ORDER BY source_key',
        [catalog],
      );
      return r.rows.map((f) => ({
        sourceKey: f.source_key,
        contentHash: f.content_hash ?? '',
        code: f.code,
        message: f.message,
        attempts: f.attempts,
      }));
    },

    async startRun(catalog) {
      await pool.query('INSERT INTO catalogs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [catalog]);
      const r = await pool.query<{ id: string }>('INSERT INTO reindex_runs (catalog) VALUES ($1) RETURNING id', [
        catalog,
      ]);
      return Number(r.rows[0]!.id);
    },

    async finishRun(id, status, counts) {
      await pool.query('UPDATE reindex_runs SET status = $2, counts = $3::jsonb, finished_at = now() WHERE id = $1', [
        id,
        status,
        JSON.stringify(counts),
      ]);
    },

    async getRun(id) {
      const r = await pool.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM reindex_runs WHERE id = $1`, [id]);
      return runOf(r.rows[0]);
    },

    async runningRun(catalog) {
      const r = await pool.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM reindex_runs WHERE catalog = $1 AND status = 'running'
          ORDER BY started_at DESC, id DESC LIMIT 1`,
        [catalog],
      );
      return runOf(r.rows[0]);
    },

    async updateRunCounts(id, counts) {
      await pool.query("UPDATE reindex_runs SET counts = $2::jsonb WHERE id = $1 AND status = 'running'", [
        id,
        JSON.stringify(counts),
      ]);
    },
  };
}
