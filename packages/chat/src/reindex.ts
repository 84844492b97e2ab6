/**
 * `/reindex` as both adapters run it once the caller is known to be an admin: the service's
 * reindex with throttled progress, then one final text (summary, "already running", or the error).
 */
import {
  asLookalikeError,
  type Logger,
  type LookalikeError,
  type ReindexProgress,
  type ReindexSummary,
  type SimilarityService,
} from '@lookalike/core';
import { logFailure } from './failures.js';
import type { ProgressThrottle } from './throttle.js';

export interface ReindexTexts {
  progress(progress: ReindexProgress): string;
  summary(summary: ReindexSummary): string;
  /** Another reindex runs; its progress when the service said. */
  inProgress(error: LookalikeError, progress: ReindexProgress | null): string;
  failed(error: LookalikeError): string;
}

export interface RunReindexOptions {
  service: Pick<SimilarityService, 'reindex'>;
  log: Logger;
  texts: ReindexTexts;
  /** Where progress goes; the final text is written through it too. Without it, the caller posts the text. */
  throttle?: ProgressThrottle | undefined;
  /** Called with each progress event before it is rendered (the first one says this run really started). */
  onProgress?: ((progress: ReindexProgress) => void) | undefined;
}

export type ReindexOutcome =
  | { kind: 'done'; summary: ReindexSummary; text: string }
  | { kind: 'in-progress'; progress: ReindexProgress | null; text: string }
  | { kind: 'failed'; error: LookalikeError; text: string };

/** The progress a REINDEX_IN_PROGRESS error carries (`details.progress`), or null. */
export function progressOf(error: LookalikeError): ReindexProgress | null {
  return (error.details.progress as ReindexProgress | null | undefined) ?? null;
}

/** Runs the reindex; resolves (never rejects) once the final text is written through the throttle. */
export async function runReindex(options: RunReindexOptions): Promise<ReindexOutcome> {
  const { log, texts, throttle, onProgress } = options;
  let outcome: ReindexOutcome;
  try {
    const summary = await options.service.reindex((p) => {
      onProgress?.(p);
      throttle?.push(texts.progress(p));
    });
    log.info({ summary: { ...summary, failedFiles: undefined } }, 'reindex finished');
    outcome = { kind: 'done', summary, text: texts.summary(summary) };
  } catch (err) {
    const error = asLookalikeError(err);
    if (error.code === 'REINDEX_IN_PROGRESS') {
      const progress = progressOf(error);
      log.info({ code: error.code }, 'reindex already running');
      outcome = { kind: 'in-progress', progress, text: texts.inProgress(error, progress) };
    } else {
      logFailure(log, error, 'reindex failed');
      outcome = { kind: 'failed', error, text: texts.failed(error) };
    }
  }
  await throttle?.finish(outcome.text);
  return outcome;
}
