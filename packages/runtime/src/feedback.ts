/**
 * The process's one feedback recorder (LOOKALIKE_FEEDBACK, LOOKALIKE_FEEDBACK_SALT): the bots
 * record answers and reactions through it. With DATABASE_URL the feedback is in PostgreSQL (every
 * replica sees every answer), otherwise in `<dataDir>/feedback.sqlite`. Off: nothing is opened,
 * nothing recorded.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Config,
  createFeedbackRecorder,
  disabledFeedback,
  type FeedbackRecorder,
  type FeedbackStore,
  type Logger,
  newFeedbackSalt,
} from '@lookalike/core';

/** The data dir's salt file, used when LOOKALIKE_FEEDBACK_SALT is unset. */
export const FEEDBACK_SALT_FILE = 'feedback-salt';

export interface ProcessFeedback {
  recorder: FeedbackRecorder;
  /** Closes the store (after the bots have stopped). */
  close(): Promise<void>;
}

type FeedbackConfig = Pick<Config, 'dataDir' | 'feedback' | 'scale'>;

/**
 * LOOKALIKE_FEEDBACK_SALT, or the data dir's salt (created, mode 600, on first use). Never logged.
 * @throws Error when the salt file cannot be read or written
 */
export function feedbackSalt(config: Pick<Config, 'dataDir' | 'feedback'>): string {
  if (config.feedback.salt !== undefined) return config.feedback.salt;
  const path = join(config.dataDir, FEEDBACK_SALT_FILE);
  if (existsSync(path)) {
    const salt = readFileSync(path, 'utf8').trim();
    if (salt.length >= 16) return salt;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const salt = newFeedbackSalt();
  writeFileSync(path, `${salt}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return salt;
}

/**
 * The feedback store `config` names: PostgreSQL with DATABASE_URL (migrated), else the data dir's
 * SQLite file. `readonly` (the report): undefined when the SQLite file does not exist yet.
 * @throws LookalikeError DATABASE_UNAVAILABLE when PostgreSQL does not answer
 */
export async function openFeedbackStore(
  config: FeedbackConfig,
  logger: Logger,
  options: { readonly?: boolean } = {},
): Promise<FeedbackStore | undefined> {
  const url = config.scale.databaseUrl;
  if (url !== undefined) {
    const { openEngines } = await import('./engines.js');
    const engines = await openEngines({ scale: { ...config.scale, redisUrl: undefined } }, logger);
    const { createPgFeedbackStore } = await import('@lookalike/pg');
    const pool = engines.pg?.pool;
    if (pool === undefined) throw new Error('unreachable: DATABASE_URL set but no pool');
    const store = createPgFeedbackStore(pool);
    return { ...store, close: () => engines.close() };
  }
  const { feedbackExists, feedbackPath, openSqliteFeedbackStore } = await import('@lookalike/catalog');
  if (options.readonly === true && !feedbackExists(config.dataDir)) return undefined;
  return openSqliteFeedbackStore(feedbackPath(config.dataDir), { readonly: options.readonly === true });
}

/**
 * Opens the process's recorder. Off (LOOKALIKE_FEEDBACK=off): `disabledFeedback`, no store.
 * With DATABASE_URL and no LOOKALIKE_FEEDBACK_SALT each replica would hash users with its own
 * data dir's salt: a warning says to set one salt for all.
 */
export async function openFeedback(config: FeedbackConfig, logger: Logger): Promise<ProcessFeedback> {
  if (!config.feedback.enabled) return { recorder: disabledFeedback, close: async () => {} };
  const log = logger.child({ component: 'feedback' });
  if (config.scale.databaseUrl !== undefined && config.feedback.salt === undefined) {
    log.warn(
      {},
      'LOOKALIKE_FEEDBACK_SALT is unset: each replica hashes user ids with its own data dir salt; set one salt for every replica',
    );
  }
  const salt = feedbackSalt(config);
  const store = await openFeedbackStore(config, log);
  if (store === undefined) throw new Error('unreachable: a writable feedback store is always opened');
  return { recorder: createFeedbackRecorder({ store, salt, logger }), close: () => store.close() };
}
