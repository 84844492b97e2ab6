/**
 * `/reindex` as both adapters run it once the caller is known to be an admin: the service's
 * reindex with throttled progress, then one final text (summary, "already running", the error),
 * or a refusal that needs the admin's confirmation (REINDEX_MASS_REMOVAL: the run would empty most
 * of the catalog), which the adapter shows with its own buttons.
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

/** What a REINDEX_MASS_REMOVAL refusal says about the run it refused. */
export interface MassRemoval {
  /** Stored items the run would have removed. */
  wouldRemove: number;
  /** Items in the catalog. */
  total: number;
  /** The folder that was scanned, when the catalog said. */
  imagesDir: string | undefined;
  /** The folder is missing altogether (an unmounted share). */
  folderMissing: boolean;
}

export interface ReindexTexts {
  progress(progress: ReindexProgress): string;
  summary(summary: ReindexSummary): string;
  /** Another reindex runs; its progress when the service said. */
  inProgress(error: LookalikeError, progress: ReindexProgress | null): string;
  failed(error: LookalikeError): string;
  /**
   * The run was refused because it would remove most of the catalog.
   * @defaultValue the catalog's sentence (`error.userMessage`)
   */
  needsConfirmation?(error: LookalikeError, removal: MassRemoval): string;
}

export interface RunReindexOptions {
  service: Pick<SimilarityService, 'reindex'>;
  log: Logger;
  texts: ReindexTexts;
  /**
   * Where progress goes; the final text is written through it too (except a needs-confirmation
   * outcome: the throttle is stopped and the caller writes the confirmation itself, with its
   * buttons). Without it, the caller posts the text.
   */
  throttle?: ProgressThrottle | undefined;
  /** Called with each progress event before it is rendered (the first one says this run really started). */
  onProgress?: ((progress: ReindexProgress) => void) | undefined;
  /** The admin confirmed: go ahead even if most of the catalog would be removed. @defaultValue false */
  allowRemovals?: boolean | undefined;
  /**
   * With `allowRemovals`: the count the admin confirmed (the refusal's `wouldRemove`). A run that
   * would now remove more is refused again (a new needs-confirmation outcome with the new count).
   * @defaultValue no cap
   */
  maxRemovals?: number | undefined;
}

export type ReindexOutcome =
  | { kind: 'done'; summary: ReindexSummary; text: string }
  | { kind: 'in-progress'; progress: ReindexProgress | null; text: string }
  | { kind: 'needs-confirmation'; error: LookalikeError; removal: MassRemoval; text: string }
  | { kind: 'failed'; error: LookalikeError; text: string };

/** The progress a REINDEX_IN_PROGRESS error carries (`details.progress`), or null. */
export function progressOf(error: LookalikeError): ReindexProgress | null {
  return (error.details.progress as ReindexProgress | null | undefined) ?? null;
}

/** The counts a REINDEX_MASS_REMOVAL error carries in its details. */
export function massRemovalOf(error: LookalikeError): MassRemoval {
  const d = error.details;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    wouldRemove: num(d.wouldRemove),
    total: num(d.total),
    imagesDir: typeof d.imagesDir === 'string' ? d.imagesDir : undefined,
    folderMissing: d.folderMissing === true,
  };
}

/** Runs the reindex; resolves (never rejects) once the final text is written through the throttle. */
export async function runReindex(options: RunReindexOptions): Promise<ReindexOutcome> {
  const { log, texts, throttle, onProgress } = options;
  let outcome: ReindexOutcome;
  try {
    const summary = await options.service.reindex(
      (p) => {
        onProgress?.(p);
        throttle?.push(texts.progress(p));
      },
      {
        allowRemovals: options.allowRemovals === true,
        ...(options.maxRemovals === undefined ? {} : { maxRemovals: options.maxRemovals }),
      },
    );
    log.info({ summary: { ...summary, failedFiles: undefined } }, 'reindex finished');
    outcome = { kind: 'done', summary, text: texts.summary(summary) };
  } catch (err) {
    const error = asLookalikeError(err);
    if (error.code === 'REINDEX_IN_PROGRESS') {
      const progress = progressOf(error);
      log.info({ code: error.code }, 'reindex already running');
      outcome = { kind: 'in-progress', progress, text: texts.inProgress(error, progress) };
    } else if (error.code === 'REINDEX_MASS_REMOVAL') {
      const removal = massRemovalOf(error);
      log.warn(
        {
          code: error.code,
          wouldRemove: removal.wouldRemove,
          total: removal.total,
          imagesDir: removal.imagesDir,
          confirmed: options.maxRemovals ?? null,
        },
        'reindex refused: it would remove most of the catalog; asking for confirmation',
      );
      const text = texts.needsConfirmation?.(error, removal) ?? error.userMessage;
      outcome = { kind: 'needs-confirmation', error, removal, text };
    } else {
      logFailure(log, error, 'reindex failed');
      outcome = { kind: 'failed', error, text: texts.failed(error) };
    }
  }
  if (outcome.kind === 'needs-confirmation') await throttle?.cancel();
  else await throttle?.finish(outcome.text);
  return outcome;
}
