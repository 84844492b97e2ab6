/**
 * The catalog's SQLite database: items (path, size, mtime, hash, metadata, vector), files that
 * failed to embed, and a meta table (schema version, weights identity, generation counter).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const SCHEMA_VERSION = 1;

/** One item without its vector. */
export interface ItemRow {
  fid: number;
  path: string;
  id: string;
  size: number;
  mtime_ms: number;
  sha256: string;
  metadata: string;
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
      this.db.exec(`
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
      `);
      const v = this.db
        .prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
        .get()?.value;
      if (v === undefined) {
        this.db.prepare("INSERT INTO meta(key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
      } else if (Number(v) !== SCHEMA_VERSION) throw new Error(`Unsupported catalog schema version ${v}`);
    } else {
      this.db.pragma('query_only = ON');
    }
    this.#stmts = prepareStatements(this.db);
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

  vectorById(id: string): Float32Array | undefined {
    const r = this.#stmts.vectorById.get(id);
    return r === undefined ? undefined : blobToVector(r.vector);
  }

  /** Inserts or replaces the item at `item.path`; returns its fid (kept when the path existed). */
  upsert(item: NewItem, now: number): number {
    return this.#stmts.upsert.get({ ...item, vector: vectorToBlob(item.vector), indexedAt: now })!.fid;
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

function prepareStatements(db: Database.Database) {
  return {
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    rows: db.prepare<[], ItemRow>('SELECT fid, path, id, size, mtime_ms, sha256, metadata FROM items'),
    rowsWithVectorsAfter: db.prepare<[number, number], ItemRow & { vector: Buffer }>(
      'SELECT fid, path, id, size, mtime_ms, sha256, metadata, vector FROM items WHERE fid > ? ORDER BY fid LIMIT ?',
    ),
    vectorById: db.prepare<[string], { vector: Buffer }>('SELECT vector FROM items WHERE id = ?'),
    count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM items'),
    upsert: db.prepare<[Record<string, unknown>], { fid: number }>(
      `INSERT INTO items(path, id, size, mtime_ms, sha256, metadata, vector, indexed_at)
       VALUES (@path, @id, @size, @mtimeMs, @sha256, @metadata, @vector, @indexedAt)
       ON CONFLICT(path) DO UPDATE SET id = excluded.id, size = excluded.size, mtime_ms = excluded.mtime_ms,
         sha256 = excluded.sha256, metadata = excluded.metadata, vector = excluded.vector,
         indexed_at = excluded.indexed_at
       RETURNING fid`,
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
