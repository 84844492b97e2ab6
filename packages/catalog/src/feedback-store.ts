/**
 * Feedback in SQLite: `<dataDir>/feedback.sqlite`, its own file beside catalog.sqlite, so a model
 * change (which swaps catalog.sqlite for a new one) or a removed catalog keeps the feedback, and
 * the catalog's schema version is not touched. Tables are created with CREATE TABLE IF NOT EXISTS.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnswerRecord, FeedbackEvent, FeedbackKind, FeedbackStore, Surface } from '@lookalike/core';
import Database from 'better-sqlite3';

/** The feedback database's file name in the data dir. */
export const FEEDBACK_FILE = 'feedback.sqlite';

/** Where the data dir's feedback lives. */
export const feedbackPath = (dataDir: string) => join(dataDir, FEEDBACK_FILE);

export const FEEDBACK_SQLITE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS feedback_answers (
    surface TEXT NOT NULL,
    message_key TEXT NOT NULL,
    request_id TEXT NOT NULL,
    result_ids TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (surface, message_key)
  );
  CREATE INDEX IF NOT EXISTS feedback_answers_at ON feedback_answers(at);
  CREATE TABLE IF NOT EXISTS feedback_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('up', 'down', 'more')),
    surface TEXT NOT NULL,
    message_key TEXT NOT NULL,
    request_id TEXT NOT NULL,
    result_ids TEXT NOT NULL,
    item_id TEXT NOT NULL DEFAULT '',
    user_hash TEXT NOT NULL,
    at INTEGER NOT NULL,
    UNIQUE (surface, message_key, user_hash, kind, item_id)
  );
  CREATE INDEX IF NOT EXISTS feedback_events_at ON feedback_events(at);
`;

export interface SqliteFeedbackStoreOptions {
  /** Open an existing file for reading only (the `lookalike feedback` report). @defaultValue false */
  readonly?: boolean;
}

interface AnswerRow {
  surface: string;
  message_key: string;
  request_id: string;
  result_ids: string;
  at: number;
}

interface EventRow {
  kind: string;
  surface: string;
  message_key: string;
  request_id: string;
  result_ids: string;
  item_id: string;
  user_hash: string;
  at: number;
}

const ids = (json: string): string[] => {
  const v: unknown = JSON.parse(json);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
};

/**
 * Opens (creating it and its folder when missing, unless `readonly`) the feedback database at `path`.
 * @throws Error from better-sqlite3 when the file cannot be opened (readonly: when it does not exist)
 */
export function openSqliteFeedbackStore(path: string, options: SqliteFeedbackStoreOptions = {}): FeedbackStore {
  const readonly = options.readonly === true;
  if (!readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly, fileMustExist: readonly });
  if (readonly) db.pragma('query_only = ON');
  else {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(FEEDBACK_SQLITE_SCHEMA);
  }
  const hasTables = db
    .prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'feedback_events'")
    .get() as {
    n: number;
  };
  if (hasTables.n === 0) {
    // A read-only open of a file without the tables (never written): an empty store.
    db.close();
    return emptyStore();
  }
  const saveAnswer = db.prepare<[string, string, string, string, number]>(
    `INSERT INTO feedback_answers (surface, message_key, request_id, result_ids, at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (surface, message_key) DO UPDATE SET request_id = excluded.request_id,
       result_ids = excluded.result_ids, at = excluded.at`,
  );
  const findAnswer = db.prepare<[string, string], AnswerRow>(
    'SELECT surface, message_key, request_id, result_ids, at FROM feedback_answers WHERE surface = ? AND message_key = ?',
  );
  const addEvent = db.prepare<[string, string, string, string, string, string, string, number]>(
    `INSERT OR IGNORE INTO feedback_events (kind, surface, message_key, request_id, result_ids, item_id, user_hash, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const events = db.prepare<[number], EventRow>(
    `SELECT kind, surface, message_key, request_id, result_ids, item_id, user_hash, at
     FROM feedback_events WHERE at >= ? ORDER BY at, id`,
  );
  const answerCounts = db.prepare<[number], { surface: string; n: number }>(
    'SELECT surface, count(*) AS n FROM feedback_answers WHERE at >= ? GROUP BY surface',
  );
  let closed = false;
  return {
    async saveAnswer(a: AnswerRecord) {
      if (readonly) throw new Error('feedback store opened read-only');
      saveAnswer.run(a.surface, a.messageKey, a.requestId, JSON.stringify(a.resultIds), a.at);
    },
    async findAnswer(surface, messageKey) {
      const r = findAnswer.get(surface, messageKey);
      return r === undefined
        ? undefined
        : {
            surface: r.surface as Surface,
            messageKey: r.message_key,
            requestId: r.request_id,
            resultIds: ids(r.result_ids),
            at: r.at,
          };
    },
    async addEvent(e: FeedbackEvent) {
      if (readonly) throw new Error('feedback store opened read-only');
      const res = addEvent.run(
        e.kind,
        e.surface,
        e.messageKey,
        e.requestId,
        JSON.stringify(e.resultIds),
        e.itemId ?? '',
        e.userHash,
        e.at,
      );
      return res.changes > 0;
    },
    async events(sinceMs) {
      return events.all(sinceMs).map((r) => ({
        kind: r.kind as FeedbackKind,
        surface: r.surface as Surface,
        messageKey: r.message_key,
        requestId: r.request_id,
        resultIds: ids(r.result_ids),
        itemId: r.item_id === '' ? undefined : r.item_id,
        userHash: r.user_hash,
        at: r.at,
      }));
    },
    async answerCounts(sinceMs) {
      const out: Partial<Record<Surface, number>> = {};
      for (const r of answerCounts.all(sinceMs)) out[r.surface as Surface] = r.n;
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** True when the data dir has a feedback database. */
export const feedbackExists = (dataDir: string) => existsSync(feedbackPath(dataDir));

/** A store with nothing in it (a feedback file that was never written). */
function emptyStore(): FeedbackStore {
  return {
    saveAnswer: async () => {
      throw new Error('feedback store opened read-only');
    },
    findAnswer: async () => undefined,
    addEvent: async () => {
      throw new Error('feedback store opened read-only');
    },
    events: async () => [],
    answerCounts: async () => ({}),
    close: async () => {},
  };
}
