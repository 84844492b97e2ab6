/**
 * The catalog's SQLite database: items (path, size, mtime, hash, metadata, vector; for feed items
 * the image cache file), files that failed to embed, the HTTP validators of feed images, and a
 * meta table (schema version, weights identity, generation counter, catalog kind).
 * Schema 2 (feeds) upgrades a schema-1 database in place when it is opened for writing.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const SCHEMA_VERSION = 2;

/** One item without its vector. */
export interface ItemRow {
  fid: number;
  path: string;
  id: string;
  size: number;
  mtime_ms: number;
  sha256: string;
  metadata: string;
  /** Feed items: the image cache file, relative to the data dir (null, or absent, for folder items). */
  file?: string | null;
}

export interface FailureRow {
  path: string;
  size: number;
  mtime_ms: number;
  code: string;
  message: string;
}

export interface NewItem {
  path: string;
  id: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  metadata: string;
  vector: Float32Array;
  /** Feed items: the image cache file, relative to the data dir. */
  file?: string | undefined;
}

/** Float32Array ↔ BLOB (little-endian, as stored by the platform). */
export function vectorToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobToVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export class CatalogStore {
  readonly db: Database.Database;
  readonly #stmts: ReturnType<typeof prepareStatements>;

  constructor(path: string, options: { readonly?: boolean } = {}) {
    if (options.readonly !== true) mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { readonly: options.readonly === true, fileMustExist: options.readonly === true });
    if (options.readonly !== true) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      try {
        this.db.transaction(() => createOrUpgrade(this.db))();
      } catch (err) {
        this.db.close();
        throw err;
      }
    } else {
      this.db.pragma('query_only = ON');
    }
    this.#stmts = prepareStatements(this.db, hasColumn(this.db, 'items', 'file'));
  }

  getMeta(key: string): string | undefined {
    return this.#stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#stmts.setMeta.run(key, value);
  }

  generation(): number {
    return Number(this.getMeta('generation') ?? '0');
  }

  /** Increments the generation counter (call inside the transaction that changed vectors). */
  bumpGeneration(): number {
    const g = this.generation() + 1;
    this.setMeta('generation', String(g));
    return g;
  }

  count(): number {
    return this.#stmts.count.get()!.n;
  }

  rows(): ItemRow[] {
    return this.#stmts.rows.all();
  }

  /** Up to `limit` items with their vectors, in fid order, after `afterFid` (pages of a start-up rebuild). */
  rowsWithVectorsAfter(afterFid: number, limit: number): (ItemRow & { vector: Buffer })[] {
    return this.#stmts.rowsWithVectorsAfter.all(afterFid, limit);
  }

  /**
   * The stored vectors of these fids, in their order (undefined for a fid with no row): one
   * prepared statement per call (the fids go in as a JSON array). flat-sq8 re-ranks with these.
   */
  vectorsByFid(fids: readonly number[]): (Float32Array | undefined)[] {
    if (fids.length === 0) return [];
    const byFid = new Map<number, Buffer>();
    for (const r of this.#stmts.vectorsByFid.all(JSON.stringify(fids))) byFid.set(r.fid, r.vector);
    return fids.map((fid) => {
      const b = byFid.get(fid);
      return b === undefined ? undefined : blobToVector(b);
    });
  }

  vectorById(id: string): Float32Array | undefined {
    const r = this.#stmts.vectorById.get(id);
    return r === undefined ? undefined : blobToVector(r.vector);
  }

  /** Inserts or replaces the item at `item.path`; returns its fid (kept when the path existed). */
  upsert(item: NewItem, now: number): number {
    return this.#stmts.upsert.get({
      ...item,
      file: item.file ?? null,
      vector: vectorToBlob(item.vector),
      indexedAt: now,
    })!.fid;
  }

  /** The stored vector of any item whose image has this content hash (shared images embed once). */
  vectorBySha(sha256: string): Float32Array | undefined {
    const r = this.#stmts.vectorBySha.get(sha256);
    return r === undefined ? undefined : blobToVector(r.vector);
  }

  /** True when some item's image has this content hash. */
  hasSha(sha256: string): boolean {
    return this.#stmts.vectorBySha.get(sha256) !== undefined;
  }

  touch(fid: number, size: number, mtimeMs: number): void {
    this.#stmts.touch.run(size, mtimeMs, fid);
  }

  setLabels(fid: number, id: string, metadata: string): void {
    this.#stmts.setLabels.run(id, metadata, fid);
  }

  deleteFid(fid: number): void {
    this.#stmts.deleteFid.run(fid);
  }

  failures(): FailureRow[] {
    return this.#stmts.failures.all();
  }

  putFailure(f: { path: string; size: number; mtimeMs: number; code: string; message: string }, now: number): void {
    this.#stmts.putFailure.run({ ...f, at: now });
  }

  deleteFailure(path: string): void {
    this.#stmts.deleteFailure.run(path);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The schema-1 tables (folder catalogs). */
const SCHEMA_1 = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS items (
    fid INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    sha256 TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL,
    indexed_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS items_id ON items(id);
  CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
`;

/**
 * Schema 2 (feed catalogs): the image cache file of an item, an index by content hash (one
 * embedding per image shared by several products), and the HTTP validators per image URL.
 */
const SCHEMA_2 = `
  ALTER TABLE items ADD COLUMN file TEXT;
  CREATE INDEX IF NOT EXISTS items_sha256 ON items(sha256);
  CREATE TABLE IF NOT EXISTS http_validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    final_url TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file TEXT NOT NULL,
    checked_at INTEGER NOT NULL
  );
`;

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return db
    .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
    .all()
    .some((c) => c.name === column);
}

/** Creates the tables of a new database, or upgrades one of an older schema (inside one transaction). */
function createOrUpgrade(db: Database.Database): void {
  db.exec(SCHEMA_1);
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get();
  const setVersion = db.prepare<[string]>(
    "INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  );
  // A new database is made at schema 1 above, then upgraded like an old one.
  const from = row === undefined ? 1 : Number(row.value);
  if (!Number.isInteger(from) || from < 1 || from > SCHEMA_VERSION) {
    throw new Error(`Unsupported catalog schema version ${row?.value}`);
  }
  if (from < 2) {
    if (!hasColumn(db, 'items', 'file')) db.exec(SCHEMA_2);
    else db.exec(SCHEMA_2.replace('ALTER TABLE items ADD COLUMN file TEXT;', ''));
  }
  if (from !== SCHEMA_VERSION || row === undefined) setVersion.run(String(SCHEMA_VERSION));
}

function prepareStatements(db: Database.Database, withFile: boolean) {
  // A read-only look at a schema-1 database has no file column.
  const cols = `fid, path, id, size, mtime_ms, sha256, metadata, ${withFile ? 'file' : 'NULL AS file'}`;
  return {
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    rows: db.prepare<[], ItemRow>(`SELECT ${cols} FROM items`),
    rowsWithVectorsAfter: db.prepare<[number, number], ItemRow & { vector: Buffer }>(
      `SELECT ${cols}, vector FROM items WHERE fid > ? ORDER BY fid LIMIT ?`,
    ),
    vectorById: db.prepare<[string], { vector: Buffer }>('SELECT vector FROM items WHERE id = ?'),
    vectorsByFid: db.prepare<[string], { fid: number; vector: Buffer }>(
      'SELECT fid, vector FROM items WHERE fid IN (SELECT value FROM json_each(?))',
    ),
    vectorBySha: db.prepare<[string], { vector: Buffer }>('SELECT vector FROM items WHERE sha256 = ? LIMIT 1'),
    count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM items'),
    upsert: db.prepare<[Record<string, unknown>], { fid: number }>(
      withFile
        ? `INSERT INTO items(path, id, size, mtime_ms, sha256, metadata, vector, indexed_at, file)
           VALUES (@path, @id, @size, @mtimeMs, @sha256, @metadata, @vector, @indexedAt, @file)
           ON CONFLICT(path) DO UPDATE SET id = excluded.id, size = excluded.size, mtime_ms = excluded.mtime_ms,
             sha256 = excluded.sha256, metadata = excluded.metadata, vector = excluded.vector,
             indexed_at = excluded.indexed_at, file = excluded.file
           RETURNING fid`
        : // Never run (a read-only schema-1 database); prepared so the statements stay uniform.
          'SELECT fid FROM items WHERE path = @path',
    ),
    touch: db.prepare<[number, number, number]>('UPDATE items SET size = ?, mtime_ms = ? WHERE fid = ?'),
    setLabels: db.prepare<[string, string, number]>('UPDATE items SET id = ?, metadata = ? WHERE fid = ?'),
    deleteFid: db.prepare<[number]>('DELETE FROM items WHERE fid = ?'),
    failures: db.prepare<[], FailureRow>('SELECT path, size, mtime_ms, code, message FROM failures'),
    putFailure: db.prepare(
      `INSERT INTO failures(path, size, mtime_ms, code, message, at) VALUES (@path, @size, @mtimeMs, @code, @message, @at)
       ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, code = excluded.code,
         message = excluded.message, at = excluded.at`,
    ),
    deleteFailure: db.prepare<[string]>('DELETE FROM failures WHERE path = ?'),
  };
}
