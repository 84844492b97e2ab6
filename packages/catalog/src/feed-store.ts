/**
 * The feed catalog's tables beside the items: the HTTP validators per image URL (kept, schema 2),
 * and, for one run, the products read from the feed and the failures met (TEMP tables of this
 * connection: a 2 GB feed is planned in SQLite, not in memory, and nothing of it is left behind).
 */
import type Database from 'better-sqlite3';
import type { CatalogStore, ItemRow } from './store.js';

/** Path prefix of feed items (`feed:<product id>`) and of row failures without an id. */
export const FEED_PATH_PREFIX = 'feed:';
export const FEED_LINE_PREFIX = 'feed-line:';

/** What the last 200 for an image URL said, and where its bytes are. */
export interface ImageValidators {
  url: string;
  etag: string | null;
  lastModified: string | null;
  finalUrl: string;
  sha256: string;
  /** The cache file, relative to the data dir. */
  file: string;
}

/** A product read from the feed, as staged. */
export interface StagedProduct {
  path: string;
  id: string;
  line: number;
  imageUrl: string;
  /** productMetadata(p), JSON. */
  metadata: string;
}

/** A staged product with the stored item at its path, if any. */
export interface StagedJob extends StagedProduct {
  seq: number;
  row: ItemRow | undefined;
}

interface JoinedRow {
  seq: number;
  path: string;
  id: string;
  line: number;
  image_url: string;
  metadata: string;
  fid: number | null;
  row_id: string | null;
  size: number | null;
  mtime_ms: number | null;
  sha256: string | null;
  row_metadata: string | null;
  file: string | null;
}

const TEMP_TABLES = `
  CREATE TEMP TABLE IF NOT EXISTS feed_products (
    seq INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    line INTEGER NOT NULL,
    image_url TEXT NOT NULL,
    metadata TEXT NOT NULL
  );
  CREATE TEMP TABLE IF NOT EXISTS feed_failures (
    key TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    message TEXT NOT NULL
  );
`;

export class FeedTables {
  readonly #db: Database.Database;
  readonly #s: ReturnType<typeof prepare>;

  constructor(store: CatalogStore) {
    this.#db = store.db;
    this.#db.exec(TEMP_TABLES);
    this.#s = prepare(this.#db);
  }

  validator(url: string): ImageValidators | undefined {
    return this.#s.validator.get(url);
  }

  putValidator(v: ImageValidators, now: number): void {
    this.#s.putValidator.run({ ...v, now });
  }

  /** Empties the staging tables (a run starts). */
  resetStaging(): void {
    this.#db.exec('DELETE FROM temp.feed_products; DELETE FROM temp.feed_failures;');
  }

  /** Stages products (call inside a transaction); a repeated path keeps the first. */
  stage(products: readonly StagedProduct[]): void {
    for (const p of products) this.#s.stage.run(p);
  }

  stagedCount(): number {
    return this.#s.stagedCount.get()!.n;
  }

  isStaged(path: string): boolean {
    return this.#s.isStaged.get(path) !== undefined;
  }

  /** Stored items (of the store these tables belong to) whose path is not staged: what the run removes. */
  notStaged(): ItemRow[] {
    return this.#s.notStaged.all();
  }

  /** The staged products in feed order with their stored items, `pageSize` rows per query. */
  *jobs(pageSize = 512): Generator<StagedJob> {
    let after = 0;
    for (;;) {
      const rows = this.#s.page.all(after, pageSize);
      if (rows.length === 0) return;
      for (const r of rows) {
        yield {
          seq: r.seq,
          path: r.path,
          id: r.id,
          line: r.line,
          imageUrl: r.image_url,
          metadata: r.metadata,
          row:
            r.fid === null
              ? undefined
              : {
                  fid: r.fid,
                  path: r.path,
                  id: r.row_id ?? r.id,
                  size: r.size ?? 0,
                  mtime_ms: r.mtime_ms ?? 0,
                  sha256: r.sha256 ?? '',
                  metadata: r.row_metadata ?? '{}',
                  file: r.file,
                },
        };
      }
      after = rows.at(-1)!.seq;
    }
  }

  /** Records a failure of this run (`feed:<id>` or `feed-line:<n>`); the last one of a key wins. */
  stageFailure(key: string, code: string, message: string): void {
    this.#s.stageFailure.run(key, code, message);
  }

  /**
   * Replaces the feed failures kept in the failures table with this run's (call inside a
   * transaction, once the run is complete).
   */
  replaceFailures(now: number): void {
    this.#s.dropFeedFailures.run(`${FEED_PATH_PREFIX}%`, `${FEED_LINE_PREFIX}%`);
    this.#s.keepFailures.run(now);
  }
}

function prepare(db: Database.Database) {
  return {
    validator: db.prepare<[string], ImageValidators>(
      `SELECT url, etag, last_modified AS lastModified, final_url AS finalUrl, sha256, file
       FROM http_validators WHERE url = ?`,
    ),
    putValidator: db.prepare(
      `INSERT INTO http_validators(url, etag, last_modified, final_url, sha256, file, checked_at)
       VALUES (@url, @etag, @lastModified, @finalUrl, @sha256, @file, @now)
       ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
         final_url = excluded.final_url, sha256 = excluded.sha256, file = excluded.file,
         checked_at = excluded.checked_at`,
    ),
    stage: db.prepare(
      `INSERT OR IGNORE INTO temp.feed_products(path, id, line, image_url, metadata)
       VALUES (@path, @id, @line, @imageUrl, @metadata)`,
    ),
    stagedCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM temp.feed_products'),
    isStaged: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM temp.feed_products WHERE path = ?'),
    notStaged: db.prepare<[], ItemRow>(
      `SELECT fid, path, id, size, mtime_ms, sha256, metadata, file FROM items
       WHERE path NOT IN (SELECT path FROM temp.feed_products)`,
    ),
    page: db.prepare<[number, number], JoinedRow>(
      `SELECT p.seq, p.path, p.id, p.line, p.image_url, p.metadata,
         i.fid, i.id AS row_id, i.size, i.mtime_ms, i.sha256, i.metadata AS row_metadata, i.file
       FROM temp.feed_products p LEFT JOIN items i ON i.path = p.path
       WHERE p.seq > ? ORDER BY p.seq LIMIT ?`,
    ),
    stageFailure: db.prepare<[string, string, string]>(
      `INSERT INTO temp.feed_failures(key, code, message) VALUES (?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET code = excluded.code, message = excluded.message`,
    ),
    dropFeedFailures: db.prepare<[string, string]>('DELETE FROM failures WHERE path LIKE ? OR path LIKE ?'),
    keepFailures: db.prepare<[number]>(
      `INSERT INTO failures(path, size, mtime_ms, code, message, at)
       SELECT key, 0, 0, code, message, ? FROM temp.feed_failures WHERE true
       ON CONFLICT(path) DO UPDATE SET code = excluded.code, message = excluded.message, at = excluded.at`,
    ),
  };
}
