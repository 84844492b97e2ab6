/**
 * Feedback in PostgreSQL (migration 2: feedback_answers, feedback_events), shared by every
 * replica: a reaction reaching another replica than the one that posted the answer still finds it.
 */
import type { AnswerRecord, FeedbackEvent, FeedbackKind, FeedbackStore, Surface } from '@lookalike/core';
import type pg from 'pg';

interface AnswerRow {
  surface: string;
  message_key: string;
  request_id: string;
  result_ids: unknown;
  at: Date;
}

interface EventRow {
  kind: string;
  surface: string;
  message_key: string;
  request_id: string;
  result_ids: unknown;
  item_id: string;
  user_hash: string;
  at: Date;
}

const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * The feedback store over a pool whose database is migrated (`PgCatalog.migrate()`). `close()`
 * does not end the pool: its owner does.
 */
export function createPgFeedbackStore(pool: pg.Pool): FeedbackStore {
  return {
    async saveAnswer(a: AnswerRecord) {
      await pool.query(
        `INSERT INTO feedback_answers (surface, message_key, request_id, result_ids, at)
         VALUES ($1, $2, $3, $4::jsonb, to_timestamp($5::double precision / 1000))
         ON CONFLICT (surface, message_key) DO UPDATE SET request_id = excluded.request_id,
           result_ids = excluded.result_ids, at = excluded.at`,
        [a.surface, a.messageKey, a.requestId, JSON.stringify(a.resultIds), a.at],
      );
    },
    async findAnswer(surface, messageKey) {
      const { rows } = await pool.query<AnswerRow>(
        `SELECT surface, message_key, request_id, result_ids, at FROM feedback_answers
         WHERE surface = $1 AND message_key = $2`,
        [surface, messageKey],
      );
      const r = rows[0];
      return r === undefined
        ? undefined
        : {
            surface: r.surface as Surface,
            messageKey: r.message_key,
            requestId: r.request_id,
            resultIds: ids(r.result_ids),
            at: r.at.getTime(),
          };
    },
    async addEvent(e: FeedbackEvent) {
      const res = await pool.query(
        `INSERT INTO feedback_events (kind, surface, message_key, request_id, result_ids, item_id, user_hash, at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, to_timestamp($8::double precision / 1000))
         ON CONFLICT (surface, message_key, user_hash, kind, item_id) DO NOTHING`,
        [e.kind, e.surface, e.messageKey, e.requestId, JSON.stringify(e.resultIds), e.itemId ?? '', e.userHash, e.at],
      );
      return (res.rowCount ?? 0) > 0;
    },
    async events(sinceMs) {
      const { rows } = await pool.query<EventRow>(
        `SELECT kind, surface, message_key, request_id, result_ids, item_id, user_hash, at FROM feedback_events
         WHERE at >= to_timestamp($1::double precision / 1000) ORDER BY at, id`,
        [sinceMs],
      );
      return rows.map((r) => ({
        kind: r.kind as FeedbackKind,
        surface: r.surface as Surface,
        messageKey: r.message_key,
        requestId: r.request_id,
        resultIds: ids(r.result_ids),
        itemId: r.item_id === '' ? undefined : r.item_id,
        userHash: r.user_hash,
        at: r.at.getTime(),
      }));
    },
    async answerCounts(sinceMs) {
      const { rows } = await pool.query<{ surface: string; n: string }>(
        `SELECT surface, count(*) AS n FROM feedback_answers
         WHERE at >= to_timestamp($1::double precision / 1000) GROUP BY surface`,
        [sinceMs],
      );
      const out: Partial<Record<Surface, number>> = {};
      for (const r of rows) out[r.surface as Surface] = Number(r.n);
      return out;
    },
    async close() {},
  };
}
