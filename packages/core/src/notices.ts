/**
 * Notices: short typed lines that go with an answer (drawn on the collage, listed by the
 * adapters). Callers branch on `code`, never on the text.
 */
import { formatDuration } from './format.js';
import type { ModelMigration, ReindexProgress } from './ports.js';

export type NoticeCode = 'UNTRAINED' | 'NO_CLOSE_MATCH' | 'NO_FILTER_MATCH' | 'INDEXING' | 'MODEL_MIGRATION';

export interface Notice {
  code: NoticeCode;
  /** The sentence shown to people. */
  text: string;
  /** `warn` is drawn in a warning colour (results not meaningful); `info` is neutral. */
  level: 'warn' | 'info';
}

export const UNTRAINED_TEXT = 'Untrained model: results are not meaningful.';
export const NO_CLOSE_MATCH_TEXT = 'No close match in the catalog; these are the nearest items.';
export const NO_FILTER_MATCH_TEXT = 'Nothing in the catalog matches these filters.';

export const untrainedNotice = (): Notice => ({ code: 'UNTRAINED', text: UNTRAINED_TEXT, level: 'warn' });
export const noCloseMatchNotice = (): Notice => ({ code: 'NO_CLOSE_MATCH', text: NO_CLOSE_MATCH_TEXT, level: 'info' });
export const noFilterMatchNotice = (): Notice => ({
  code: 'NO_FILTER_MATCH',
  text: NO_FILTER_MATCH_TEXT,
  level: 'info',
});

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * "Catalog still indexing: 2,104 of 44,441 items searchable so far." While the run is still
 * scanning (its size is not known yet) the second half is left out.
 */
export function indexingText(progress: ReindexProgress): string {
  const base = `Catalog still indexing: ${count(progress.searchable)}`;
  if (progress.expected === null || progress.expected < progress.searchable) return `${base} items searchable so far.`;
  return `${base} of ${count(progress.expected)} items searchable so far.`;
}

export const indexingNotice = (progress: ReindexProgress): Notice => ({
  code: 'INDEXING',
  text: indexingText(progress),
  level: 'info',
});

/**
 * Which model answers during a model change, e.g. "Answering with the previous model (ResNet50
 * UNTRAINED …) while the catalog is re-embedded with ResNet50 ImageNet (…): 2,104 of 44,441 done."
 * Without the previous model the new vectors answer as they are made.
 */
export function migrationText(m: ModelMigration): string {
  const progress = `${count(m.done)} of ${count(Math.max(m.total, m.done))} done`;
  const when = m.running ? '' : ' (the next reindex continues it)';
  if (m.answering.md5 !== m.target.md5) {
    return `Answering with the previous model (${m.answering.description}) while the catalog is re-embedded with ${m.target.description}: ${progress}${when}.`;
  }
  return `Answering with the new model (${m.target.description}) from the items re-embedded so far: ${progress}${when}; the previous vectors are kept until it completes.`;
}

export const migrationNotice = (m: ModelMigration): Notice => ({
  code: 'MODEL_MIGRATION',
  text: migrationText(m),
  level: 'info',
});

/**
 * The INDEX_BUILDING sentence: nothing is searchable yet, but the first index is running.
 * "The catalog is being indexed for the first time (about 1:05 left). Try again in a moment."
 */
export function indexBuildingSentence(progress: ReindexProgress | null): string {
  const eta =
    progress !== null && progress.phase === 'embedding' && progress.etaSeconds !== null
      ? ` (about ${formatDuration(progress.etaSeconds)} left)`
      : '';
  const first =
    progress === null || progress.expected === null ? '' : `: 0 of ${count(progress.expected)} items so far`;
  return `The catalog is being indexed right now${first}${eta}. The first items become searchable within seconds: please try again in a moment.`;
}
