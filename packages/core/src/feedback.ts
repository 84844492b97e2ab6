/**
 * Feedback on answers: a bot records each answer it posts (`answered`), and a 👍/👎 reaction on
 * that message or a "more like this" press on it is recorded against it (`record`). Stored: the
 * request id, the result ids, the surface, the kind, the time and sha256(salt + user id). Never a
 * raw user id, never image bytes. The recorder never throws: feedback must not cost an answer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { asLookalikeError } from './errors.js';
import { type Logger, silentLogger } from './ports.js';
import type { Surface } from './service-types.js';

/** What a person said about an answer: 👍, 👎, or "more like this" on one of its results. */
export type FeedbackKind = 'up' | 'down' | 'more';

export const FEEDBACK_KINDS: readonly FeedbackKind[] = Object.freeze(['up', 'down', 'more'] as const);

/** An answer a bot posted, so that reactions on its message can be tied to its results. */
export interface AnsweredInput {
  surface: Surface;
  /** The posted message: the Discord message id, or `<channel>:<ts>` on Slack. */
  messageKey: string;
  requestId: string;
  /** The results' item ids (`SimilarItem.id`), best first. */
  resultIds: readonly string[];
}

/** A recorded answer. */
export interface AnswerRecord {
  surface: Surface;
  messageKey: string;
  requestId: string;
  resultIds: string[];
  /** When it was posted (ms since the epoch). */
  at: number;
}

/** A 👍 or 👎 on an answer's message. */
export interface VoteInput {
  kind: 'up' | 'down';
  surface: Surface;
  messageKey: string;
  /** The platform identity, e.g. `discord:1234` or `slack:T1:U1`: hashed, never stored. */
  userId: string;
}

/** A "more like this" press on one result. */
export interface MoreInput {
  kind: 'more';
  surface: Surface;
  /** The answer the button was on, when known: its request and results are recorded with the press. */
  messageKey?: string | undefined;
  /** Used when the answer was not recorded. */
  requestId?: string | undefined;
  /** The pressed result. */
  itemId: string;
  userId: string;
}

export type FeedbackInput = VoteInput | MoreInput;

/** One stored feedback event. */
export interface FeedbackEvent {
  kind: FeedbackKind;
  surface: Surface;
  /** '' when the press named no message. */
  messageKey: string;
  /** '' when unknown. */
  requestId: string;
  /** The answer's result ids, best first ([] when the answer was not recorded). */
  resultIds: string[];
  /** The pressed result (`more`); undefined for votes. */
  itemId: string | undefined;
  /** sha256(salt + user id), hex. */
  userHash: string;
  at: number;
}

/** Where answers and feedback events are kept (SQLite in the data dir, or PostgreSQL). */
export interface FeedbackStore {
  /** Inserts or replaces the answer posted as `messageKey` on `surface`. */
  saveAnswer(answer: AnswerRecord): Promise<void>;
  findAnswer(surface: Surface, messageKey: string): Promise<AnswerRecord | undefined>;
  /**
   * Adds an event. False when it is already there: one vote of a kind per person per message,
   * one press per person per result of a message.
   */
  addEvent(event: FeedbackEvent): Promise<boolean>;
  /** Events at or after `sinceMs`, oldest first. */
  events(sinceMs: number): Promise<FeedbackEvent[]>;
  /** Answers posted at or after `sinceMs`, per surface. */
  answerCounts(sinceMs: number): Promise<Partial<Record<Surface, number>>>;
  close(): Promise<void>;
}

/** What the bots call. One per process (`LOOKALIKE_FEEDBACK=off`: `disabledFeedback`). */
export interface FeedbackRecorder {
  /** False when feedback is off: nothing is recorded. */
  readonly enabled: boolean;
  /** Records an answer the bot just posted. Never throws (a failure is logged). */
  answered(answer: AnsweredInput): Promise<void>;
  /**
   * Records a reaction or a press. Resolves true when it was stored; false when feedback is off,
   * the vote is on a message that is not a recorded answer, it was already recorded, the input is
   * malformed (logged with code BAD_REQUEST) or the store failed (logged). Never throws.
   */
  record(input: FeedbackInput): Promise<boolean>;
}

/** Longest message key, user id, request id and item id accepted (longer: BAD_REQUEST, not stored). */
export const FEEDBACK_MAX_FIELD = 512;
/** Most result ids kept per answer. */
export const FEEDBACK_MAX_RESULTS = 50;

/** sha256(salt + userId), hex: the only form of a user id that is stored. */
export function hashUserId(salt: string, userId: string): string {
  return createHash('sha256').update(salt, 'utf8').update(userId, 'utf8').digest('hex');
}

/** A new random salt (32 bytes, hex), for a data dir without LOOKALIKE_FEEDBACK_SALT. */
export function newFeedbackSalt(): string {
  return randomBytes(32).toString('hex');
}

/** The recorder of `LOOKALIKE_FEEDBACK=off`: records nothing, touches no store. */
export const disabledFeedback: FeedbackRecorder = Object.freeze({
  enabled: false,
  answered: async () => {},
  record: async () => false,
});

export interface FeedbackRecorderOptions {
  store: FeedbackStore;
  /** LOOKALIKE_FEEDBACK_SALT, or the data dir's random salt. Never logged. */
  salt: string;
  logger?: Logger;
  /** @defaultValue Date.now */
  now?: () => number;
}

const fieldOk = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= FEEDBACK_MAX_FIELD;

/** The recorder over a store. */
export function createFeedbackRecorder(options: FeedbackRecorderOptions): FeedbackRecorder {
  const { store, salt } = options;
  const log = (options.logger ?? silentLogger).child({ component: 'feedback' });
  const now = options.now ?? Date.now;
  if (salt.length === 0) throw new TypeError('createFeedbackRecorder: salt must not be empty');

  const malformed = (what: string, surface: unknown) => {
    log.warn({ code: 'BAD_REQUEST', surface }, `feedback ${what} malformed; not recorded`);
  };

  return {
    enabled: true,
    async answered(answer) {
      if (!fieldOk(answer.messageKey) || !fieldOk(answer.requestId)) return malformed('answer', answer.surface);
      const resultIds = answer.resultIds.filter(fieldOk).slice(0, FEEDBACK_MAX_RESULTS);
      try {
        await store.saveAnswer({
          surface: answer.surface,
          messageKey: answer.messageKey,
          requestId: answer.requestId,
          resultIds,
          at: now(),
        });
      } catch (err) {
        log.error({ err: asLookalikeError(err), requestId: answer.requestId }, 'could not record the answer');
      }
    },
    async record(input) {
      if (!fieldOk(input.userId)) {
        malformed(input.kind, input.surface);
        return false;
      }
      try {
        const base = { kind: input.kind, surface: input.surface, userHash: hashUserId(salt, input.userId), at: now() };
        if (input.kind === 'more') {
          if (!fieldOk(input.itemId) || (input.messageKey !== undefined && !fieldOk(input.messageKey))) {
            malformed('press', input.surface);
            return false;
          }
          const answer =
            input.messageKey === undefined ? undefined : await store.findAnswer(input.surface, input.messageKey);
          const requestId = answer?.requestId ?? (fieldOk(input.requestId) ? input.requestId : '');
          return await store.addEvent({
            ...base,
            messageKey: input.messageKey ?? '',
            requestId,
            resultIds: answer?.resultIds ?? [],
            itemId: input.itemId,
          });
        }
        if (!fieldOk(input.messageKey)) {
          malformed('vote', input.surface);
          return false;
        }
        const answer = await store.findAnswer(input.surface, input.messageKey);
        // A reaction on any other message (a person's photo, a reindex message) is none of ours.
        if (answer === undefined) return false;
        const stored = await store.addEvent({
          ...base,
          messageKey: input.messageKey,
          requestId: answer.requestId,
          resultIds: answer.resultIds,
          itemId: undefined,
        });
        if (stored) log.debug({ kind: input.kind, requestId: answer.requestId }, 'feedback recorded');
        return stored;
      } catch (err) {
        log.error({ err: asLookalikeError(err), kind: input.kind }, 'could not record feedback');
        return false;
      }
    },
  };
}
