/**
 * The SimilarityService: one per process, shared by the local page and the chat adapters.
 * It owns the whole request: closed → catalog state → rate limit → download → sniff → inspect →
 * embed → search → notices → collage. Adapters only translate platform events to and from it.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import PQueue from 'p-queue';
import { createAnswerBuilder, stageTimer } from './answer-builder.js';
import { asLookalikeError, LookalikeError } from './errors.js';
import { searchFromItem } from './item-search.js';
import { type AsyncRateLimiter, createRateLimiter } from './limits.js';
import type { CollageRenderer, ImageFetcher, ImageInspector, ImageLimits } from './media.js';
import { checkMoreRequest } from './more-like-this.js';
import { indexBuildingSentence } from './notices.js';
import type { CatalogPort, Embedder, Logger, SimilarItem, WeightsInfo } from './ports.js';
import { silentLogger } from './ports.js';
import { createQueryEmbedders } from './query-embedders.js';
import { createRateCheck } from './rate-check.js';
import type {
  Answer,
  Facets,
  FindSimilarOptions,
  ImageRef,
  ServiceObserver,
  ServiceStatus,
  SimilarityService,
  Surface,
} from './service-types.js';

/** The numbers the service works with; `serviceSettingsFrom(config)` builds them from the parsed config. */
export interface ServiceSettings {
  /** Queries per chat user per minute. */
  ratePerMinute: number;
  /**
   * Queries per local page / API client per minute (surface 'page'): its own budget, separate
   * from the chat users'. @defaultValue ratePerMinute
   */
  pageRatePerMinute?: number;
  /** Queries waiting for a slot before new ones get BUSY. */
  queueMax: number;
  /** findSimilar jobs running at once (the embedder batches concurrent calls). */
  concurrency: number;
  /** Squared-L2 distance above which the best result is "no close match". */
  farDistance: number;
  /** Upload and download limits (quoted to users when exceeded). */
  image: ImageLimits;
  /** Largest k a caller may ask for. */
  maxK: number;
  /** Results when the caller names no k. */
  defaultK: number;
}

export interface SimilarityServiceOptions {
  embedder: Embedder;
  /**
   * The model the loaded one replaced, while the catalog still answers from its vectors (a model
   * change being re-embedded): queries are embedded with it until the catalog swaps, then it is
   * disposed. The service always owns it.
   */
  previousEmbedder?: Embedder;
  catalog: CatalogPort;
  /** Header-only image checks (@lookalike/render `createImageInspector`). */
  inspector: ImageInspector;
  /** Safe downloads (@lookalike/fetch `createFetcher`). */
  fetcher: ImageFetcher;
  /** The collage (@lookalike/render `createCollageRenderer`). */
  collage: CollageRenderer;
  settings: ServiceSettings;
  logger?: Logger;
  /** Receives timings and outcomes (metrics). */
  observer?: ServiceObserver;
  /** Clock for the rate limiter (tests). @defaultValue Date.now */
  now?: () => number;
  /**
   * Rate limiters shared by every replica (@lookalike/redis `createSharedRateLimiter` with
   * `REDIS_URL`), for chat users and for page clients. While one fails (or takes longer than a
   * second), this process's own limiter decides, and a warning is logged once per outage.
   * @defaultValue none: this process's limiters only
   */
  sharedRateLimiters?: { chat?: AsyncRateLimiter | undefined; page?: AsyncRateLimiter | undefined };
  /** Reads a result's catalog image. @defaultValue readFile(item.path) */
  loadImage?: (item: SimilarItem) => Promise<Uint8Array>;
  /**
   * Whether close() also disposes the embedder, closes the catalog and the fetcher.
   * @defaultValue true
   */
  ownsDependencies?: boolean;
}

const noObserver: ServiceObserver = { request: () => {}, stage: () => {} };

/**
 * Creates the service.
 * @throws RangeError on nonsensical settings (programming errors)
 */
export function createSimilarityService(options: SimilarityServiceOptions): SimilarityService {
  const { embedder, catalog, inspector, fetcher, collage: renderer, settings } = options;
  if (!(settings.concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
  if (!(settings.maxK >= 1) || !(settings.defaultK >= 1)) throw new RangeError('k bounds must be at least 1');
  const log = (options.logger ?? silentLogger).child({ component: 'service' });
  const observer = options.observer ?? noObserver;
  const startedAt = Date.now();
  const clock = options.now === undefined ? {} : { now: options.now };
  const pageRatePerMinute = settings.pageRatePerMinute ?? settings.ratePerMinute;
  const shared = options.sharedRateLimiters ?? {};
  const chatRate = createRateCheck({
    local: createRateLimiter({ ratePerMinute: settings.ratePerMinute, ...clock }),
    shared: shared.chat,
    logger: log,
    name: 'chat',
  });
  const pageRate = createRateCheck({
    local: createRateLimiter({ ratePerMinute: pageRatePerMinute, ...clock }),
    shared: shared.page,
    logger: log,
    name: 'page',
  });
  const queue = new PQueue({ concurrency: settings.concurrency });
  const loadImage = options.loadImage ?? ((item: SimilarItem) => readFile(item.path));
  const answeringWeights = (): WeightsInfo => catalog.answeringWeights?.() ?? embedder.weights;
  const embedders = createQueryEmbedders({
    current: embedder,
    previous: options.previousEmbedder,
    answering: answeringWeights,
    logger: log,
  });
  let closed = false;
  let closing: Promise<void> | undefined;
  let reindexing: Promise<unknown> | undefined;
  /** "More like this" answers running (they take no queue slot). */
  const mores = new Set<Promise<unknown>>();

  const timed = stageTimer(observer);
  const builder = createAnswerBuilder({
    catalog,
    renderer,
    farDistance: settings.farDistance,
    loadImage,
    log,
    timed,
  });

  /** Refuses early when nothing can be searched: empty, first index still running, or another model. */
  function checkCatalogState(): void {
    if (catalog.size() > 0) return;
    const progress = catalog.reindexProgress();
    if (progress !== null || reindexing !== undefined) {
      throw new LookalikeError('INDEX_BUILDING', 'Nothing is searchable yet: the first index is running', {
        details: { progress },
        userMessage: indexBuildingSentence(progress),
      });
    }
    throw new LookalikeError('INDEX_EMPTY', 'The catalog has no items');
  }

  async function checkRate(userId: string, surface: Surface): Promise<void> {
    const page = surface === 'page';
    const decision = await (page ? pageRate : chatRate).take(userId);
    if (!decision.allowed) {
      const limit = page ? pageRatePerMinute : settings.ratePerMinute;
      throw new LookalikeError('RATE_LIMITED', `Rate limit of ${limit}/min reached (${surface})`, {
        details: { retryAfterMs: decision.retryAfterMs },
      });
    }
  }

  async function download(image: ImageRef, requestId: string, times: Record<string, number>): Promise<Uint8Array> {
    if (image instanceof Uint8Array) return image;
    return timed('download', times, () =>
      fetcher.fetch(image.url, {
        requestId,
        ...(image.headers === undefined ? {} : { headers: image.headers }),
        ...(image.notImageHint === undefined ? {} : { notImageHint: image.notImageHint }),
      }),
    );
  }

  /** k within 1…maxK (the default for none, or for a k that is not a number). */
  const clampK = (k: number | undefined): number =>
    Math.max(1, Math.min(settings.maxK, Math.trunc(k !== undefined && Number.isFinite(k) ? k : settings.defaultK)));

  async function answer(
    bytes: Uint8Array,
    opts: FindSimilarOptions,
    requestId: string,
    times: Record<string, number>,
    rlog: Logger,
  ): Promise<Answer> {
    const k = clampK(opts.k);
    const info = await timed('inspect', times, () => inspector.inspect(bytes));
    const { results, weights } = await embedAndSearch(bytes, k, opts, times, rlog);
    return builder.finish(
      results,
      weights,
      { requestId, times, rlog, filters: opts.filters },
      {
        kind: info.kind,
        width: info.width,
        height: info.height,
      },
    );
  }

  /**
   * Embeds with the model whose vectors answer, and searches with it. When the catalog swapped
   * models between the two (INDEX_MODEL_MISMATCH), it is done once more with the new model.
   */
  async function embedAndSearch(
    bytes: Uint8Array,
    k: number,
    opts: FindSimilarOptions,
    times: Record<string, number>,
    rlog: Logger,
    retried = false,
  ): Promise<{ results: SimilarItem[]; weights: WeightsInfo }> {
    const answeringBefore = answeringWeights().md5;
    const lease = embedders.lease();
    const weights = lease.embedder.weights;
    let vector: Float32Array | undefined;
    try {
      // The embedder may transfer (detach) its input: while a model change runs (a retry is
      // possible) the first attempt gets a copy.
      const input = retried || catalog.migration?.() == null ? bytes : bytes.slice();
      [vector] = await timed('embed', times, () => lease.embedder.embed([input], { priority: 'interactive' }));
    } finally {
      lease.release();
    }
    if (vector === undefined) throw new LookalikeError('INTERNAL', 'Embedder returned no vector');
    try {
      const found = vector;
      const results = await timed('search', times, async () =>
        catalog.search(found, {
          k,
          excludeDuplicates: opts.excludeDuplicates ?? true,
          weightsMd5: weights.md5,
          ...(opts.filters === undefined ? {} : { filters: opts.filters }),
        }),
      );
      return { results, weights };
    } catch (err) {
      // Only a swap since this query chose its model earns one more try.
      const swapped =
        (err as { code?: unknown }).code === 'INDEX_MODEL_MISMATCH' && answeringWeights().md5 !== answeringBefore;
      if (retried || !swapped) throw err;
      rlog.info(
        { from: weights.md5, to: answeringWeights().md5 },
        'the catalog swapped models mid-query; embedding again',
      );
      return embedAndSearch(bytes, k, opts, times, rlog, true);
    }
  }

  const service: SimilarityService = {
    async findSimilar(image, opts) {
      const requestId = opts.requestId ?? randomUUID().slice(0, 8);
      const surface = opts.surface ?? 'page';
      const rlog = log.child({ requestId, user: opts.userId, surface });
      const started = performance.now();
      const times: Record<string, number> = {};
      try {
        if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
        checkCatalogState();
        await checkRate(opts.userId, surface);
        if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
        if (queue.size >= settings.queueMax) {
          throw new LookalikeError('BUSY', `Queue full (${queue.size} waiting)`, {
            details: { queueDepth: queue.size, inFlight: queue.pending },
          });
        }
        // The download runs inside the queue slot, so downloads are bounded like answers.
        const result = await queue.add(async () => {
          const bytes = await download(image, requestId, times);
          return answer(bytes, opts, requestId, times, rlog);
        });
        observer.request(surface, 'ok', (performance.now() - started) / 1000);
        return result;
      } catch (err) {
        const e = asLookalikeError(err);
        observer.request(surface, e.code, (performance.now() - started) / 1000);
        if (e.isUserFacing) rlog.info({ code: e.code, reason: e.message }, 'query refused');
        else rlog.error({ err }, 'query failed');
        throw e;
      }
    },

    async fetchImage(url, opts = {}) {
      if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
      if (queue.size >= settings.queueMax) {
        throw new LookalikeError('BUSY', `Queue full (${queue.size} waiting)`);
      }
      return queue.add(() => fetcher.fetch(url, opts));
    },

    async moreLikeThis(itemId, opts) {
      const requestId = opts.requestId ?? randomUUID().slice(0, 8);
      const surface = opts.surface ?? 'page';
      const rlog = log.child({ requestId, user: opts.userId, surface, op: 'more' });
      const started = performance.now();
      const times: Record<string, number> = {};
      try {
        if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
        const request = checkMoreRequest(itemId, opts.exclude, opts.filters);
        checkCatalogState();
        await checkRate(opts.userId, surface);
        const k = clampK(opts.k);
        // No download and no embedding: nothing waits for a queue slot (close() waits for it).
        const run = (async () => {
          const { results, weights } = await timed('search', times, () =>
            searchFromItem({ catalog, answeringWeights, request, k, log: rlog }),
          );
          const context = { requestId, times, rlog, filters: request.filters, excluded: request.exclude };
          return builder.finish(
            results,
            weights,
            { ...context, sourceItemId: request.itemId },
            { itemId: request.itemId, excluded: request.exclude.length },
          );
        })();
        mores.add(run);
        const result = await run.finally(() => mores.delete(run));
        observer.request(surface, 'ok', (performance.now() - started) / 1000);
        return result;
      } catch (err) {
        const e = asLookalikeError(err);
        observer.request(surface, e.code, (performance.now() - started) / 1000);
        if (e.isUserFacing) rlog.info({ code: e.code, reason: e.message }, 'more like this refused');
        else rlog.error({ err }, 'more like this failed');
        throw e;
      }
    },

    async reindex(onProgress, runOptions) {
      if (reindexing !== undefined) {
        throw new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', {
          details: { progress: catalog.reindexProgress() },
        });
      }
      const rlog = log.child({ op: 'reindex' });
      rlog.info({}, 'reindex started');
      const run = catalog.reindex(onProgress, runOptions);
      reindexing = run;
      try {
        const summary = await run;
        rlog.info({ ...summary, failedFiles: summary.failedFiles.slice(0, 10) }, 'reindex done');
        return summary;
      } catch (err) {
        const e = asLookalikeError(err);
        rlog.warn({ code: e.code, reason: e.message }, 'reindex failed');
        throw e;
      } finally {
        reindexing = undefined;
        renderer.clear();
        // A completed model change: the previous model goes once no query holds it.
        embedders.settle();
      }
    },

    status(): ServiceStatus {
      const progress = catalog.reindexProgress();
      return {
        catalogSize: catalog.size(),
        weights: answeringWeights(),
        runtime: embedder.runtime,
        reindexing: reindexing !== undefined || progress !== null,
        reindexProgress: progress,
        queueDepth: queue.size,
        inFlight: queue.pending,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
    },

    facets(): Facets {
      return { genders: catalog.facet('gender'), articleTypes: catalog.facet('articleType') };
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await queue.onIdle();
        await Promise.allSettled([...mores]);
        if (options.ownsDependencies ?? true) {
          await fetcher.close();
          // The catalog stops a running reindex at its next checkpoint and waits for it.
          await catalog.close();
          if (reindexing !== undefined) await reindexing.catch(() => {});
          await embedders.close();
          await embedder.dispose();
        } else {
          if (reindexing !== undefined) await reindexing.catch(() => {});
          await embedders.close();
        }
        log.info({}, 'service closed');
      })();
      return closing;
    },
  };
  return service;
}
