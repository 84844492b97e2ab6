/**
 * The tail every answer shares, whether it came from a photo or from "more like this": the
 * notices, the collage, the log line and the Answer object. Internal to the service.
 */
import type { CollageRenderer } from './media.js';
import {
  indexingNotice,
  migrationNotice,
  type Notice,
  noCloseMatchNotice,
  noFilterMatchNotice,
  untrainedNotice,
} from './notices.js';
import type { CatalogPort, Logger, MetadataFilters, SimilarItem, WeightsInfo } from './ports.js';
import { loadResultImages } from './result-images.js';
import type { Answer, AnswerStage, ServiceObserver } from './service-types.js';

/** Runs `fn` as one timed stage: its milliseconds go into `times`, its seconds to the observer. */
export type StageTimer = <T>(stage: AnswerStage, times: Record<string, number>, fn: () => Promise<T>) => Promise<T>;

export function stageTimer(observer: ServiceObserver): StageTimer {
  return async (stage, times, fn) => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const s = (performance.now() - t0) / 1000;
      times[stage] = Math.round(s * 10_000) / 10;
      observer.stage(stage, s);
    }
  };
}

export interface AnswerBuilderOptions {
  catalog: CatalogPort;
  renderer: CollageRenderer;
  /** Squared-L2 distance above which the best result is "no close match". */
  farDistance: number;
  loadImage: (item: SimilarItem) => Promise<Uint8Array>;
  log: Logger;
  timed: StageTimer;
}

/** What one answer is, besides its results. */
export interface AnswerContext {
  requestId: string;
  times: Record<string, number>;
  rlog: Logger;
  filters: MetadataFilters | undefined;
  /** "More like this": the ids left out (the item and the chain). */
  excluded?: readonly string[];
  sourceItemId?: string;
}

export interface AnswerBuilder {
  finish(
    results: SimilarItem[],
    weights: WeightsInfo,
    ctx: AnswerContext,
    logFields: Record<string, unknown>,
  ): Promise<Answer>;
}

export function createAnswerBuilder(options: AnswerBuilderOptions): AnswerBuilder {
  const { catalog, renderer, farDistance, loadImage, log, timed } = options;
  /** Whether a reindex was seen running: cached tiles are dropped once it ends (files may have changed). */
  let reindexSeen = false;

  function noticesFor(results: readonly SimilarItem[], noCloseMatch: boolean, weights: WeightsInfo): Notice[] {
    const notices: Notice[] = [];
    if (weights.untrained) notices.push(untrainedNotice());
    const migration = catalog.migration?.() ?? null;
    const progress = catalog.reindexProgress();
    if (migration !== null) notices.push(migrationNotice(migration));
    else if (progress !== null) notices.push(indexingNotice({ ...progress, searchable: catalog.size() }));
    if (noCloseMatch) notices.push(noCloseMatchNotice());
    if (results.length === 0) notices.push(noFilterMatchNotice());
    return notices;
  }

  return {
    async finish(results, weights, ctx, logFields) {
      const { requestId, times, rlog } = ctx;
      const best = results[0];
      const noCloseMatch = best !== undefined && best.distance > farDistance;
      const notices = noticesFor(results, noCloseMatch, weights);
      if (catalog.reindexProgress() !== null) reindexSeen = true;
      else if (reindexSeen) {
        reindexSeen = false;
        renderer.clear();
      }
      const collage = await timed('collage', times, () => renderer.render(results, { weights, notices, loadImage }));
      rlog.info(
        {
          ...logFields,
          results: results.length,
          bestDistance: best?.distance,
          noCloseMatch,
          notices: notices.map((n) => n.code),
          ms: times,
          collageBytes: collage.length,
        },
        'answered',
      );
      const frozen = results.map((r) => ({ ...r, metadata: { ...r.metadata } }));
      const filters = ctx.filters === undefined || Object.keys(ctx.filters).length === 0 ? undefined : ctx.filters;
      return {
        requestId,
        results: frozen,
        weights,
        noCloseMatch,
        notices,
        collage,
        images: () => loadResultImages(frozen, loadImage, log),
        ...(filters === undefined ? {} : { filters: { ...filters } }),
        ...(ctx.excluded === undefined ? {} : { excluded: [...ctx.excluded] }),
        ...(ctx.sourceItemId === undefined ? {} : { sourceItemId: ctx.sourceItemId }),
      };
    },
  };
}
