/**
 * The SimilarityService: one per process, shared by the local page and the chat adapters.
 * photo → checks → embedding → catalog search → answer policy → collage.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import PQueue from 'p-queue';
import { createCollageRenderer, NO_CLOSE_MATCH_NOTICE, UNTRAINED_NOTICE } from './collage.js';
import { asLookalikeError, LookalikeError } from './errors.js';
import { createFetcher, type ImageFetcher } from './fetcher.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, inspectImage } from './inspect.js';
import { createRateLimiter, type RateLimiter } from './limits.js';
import { type CatalogPort, type Embedder, type Logger, type SimilarItem, silentLogger } from './ports.js';
import type { Answer, Facets, ResultImage, ServiceStatus, SimilarityService } from './service-types.js';
import { contentTypeOf, extensionOf, sniff } from './sniff.js';

export interface ServiceLimits {
  /** Queries per user per minute. @defaultValue 5 */
  ratePerMinute: number;
  /** Queries waiting for a slot before new ones get BUSY. @defaultValue 16 */
  queueMax: number;
  /** Squared-L2 distance above which the best result is "no close match". @defaultValue 0.5 */
  farDistance: number;
}

export interface ServiceFetchOptions {
  /** Exact host names attachments may come from. */
  allowedHosts: readonly string[];
  /** @defaultValue 20 MiB */
  maxBytes?: number;
  /** @defaultValue 15000 */
  timeoutMs?: number;
  /** @defaultValue 5000 */
  connectTimeoutMs?: number;
}

export interface SimilarityServiceOptions {
  embedder: Embedder;
  catalog: CatalogPort;
  limits?: Partial<ServiceLimits>;
  fetch?: ServiceFetchOptions;
  /** Upload limits checked before decoding. @defaultValue 20 MiB, 40 MP */
  image?: Partial<ImageLimits>;
  /** findSimilar jobs running at once (the embedder batches concurrent calls). @defaultValue 4 */
  concurrency?: number;
  logger?: Logger;
  /** Clock for the rate limiter (tests). @defaultValue Date.now */
  now?: () => number;
  /** Reads a result's catalog image. @defaultValue readFile(item.path) */
  loadImage?: (item: SimilarItem) => Promise<Uint8Array>;
  /** Prepared collage tiles kept in memory (≈ 350 kB each; 0 disables the cache). @defaultValue 128 */
  collageTiles?: number;
  /**
   * Whether close() also disposes the embedder and closes the catalog.
   * @defaultValue true
   */
  ownsDependencies?: boolean;
}

export const DEFAULT_SERVICE_LIMITS: Readonly<ServiceLimits> = Object.freeze({
  ratePerMinute: 5,
  queueMax: 16,
  farDistance: 0.5,
});

/** Largest k a caller may ask for. */
const MAX_K = 10;

function slug(text: string, max = 40): string {
  const s = text
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, max).replace(/-+$/, '');
}

/** A safe attachment file name like "2-shirts-10017.jpg". */
export function resultFilename(item: SimilarItem, ext: string): string {
  const parts = [String(item.rank), slug(item.metadata.articleType ?? ''), slug(item.id, 60)].filter((p) => p !== '');
  return `${parts.join('-') || 'image'}.${ext}`;
}

/**
 * Creates the service.
 * @throws RangeError on nonsensical options (programming errors)
 */
export function createSimilarityService(options: SimilarityServiceOptions): SimilarityService {
  const { embedder, catalog } = options;
  const limits: ServiceLimits = { ...DEFAULT_SERVICE_LIMITS, ...stripUndefined(options.limits ?? {}) };
  const imageLimits: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, ...stripUndefined(options.image ?? {}) };
  const concurrency = options.concurrency ?? 4;
  if (!(concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
  const log = (options.logger ?? silentLogger).child({ component: 'service' });
  const startedAt = Date.now();
  const rate: RateLimiter = createRateLimiter({
    ratePerMinute: limits.ratePerMinute,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const queue = new PQueue({ concurrency });
  const loadImage = options.loadImage ?? ((item: SimilarItem) => readFile(item.path));
  const collageRenderer = createCollageRenderer({ maxTiles: options.collageTiles ?? 128 });
  /** Whether a reindex was seen running: cached tiles are dropped once it ends (files may have changed). */
  let reindexSeen = false;
  const fetcher: ImageFetcher = createFetcher({
    allowedHosts: options.fetch?.allowedHosts ?? [],
    maxBytes: options.fetch?.maxBytes ?? imageLimits.maxBytes,
    ...(options.fetch?.timeoutMs === undefined ? {} : { timeoutMs: options.fetch.timeoutMs }),
    ...(options.fetch?.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.fetch.connectTimeoutMs }),
    logger: options.logger ?? silentLogger,
  });
  let closed = false;
  let fetching = 0;
  let closing: Promise<void> | undefined;
  let reindexing: Promise<unknown> | undefined;

  async function answer(
    image: Uint8Array,
    requestId: string,
    k: number,
    filters: Readonly<Record<string, string>> | undefined,
    excludeDuplicates: boolean,
    rlog: Logger,
  ): Promise<Answer> {
    const t0 = performance.now();
    const info = await inspectImage(image, imageLimits);
    const [vector] = await embedder.embed([image]);
    if (vector === undefined) throw new LookalikeError('INTERNAL', 'Embedder returned no vector');
    const t1 = performance.now();
    const results = catalog.search(vector, {
      k,
      excludeDuplicates,
      ...(filters === undefined ? {} : { filters }),
    });
    const t2 = performance.now();
    const best = results[0];
    const noCloseMatch = best !== undefined && best.distance > limits.farDistance;
    const notices: string[] = [];
    if (embedder.weights.untrained) notices.push(UNTRAINED_NOTICE);
    if (noCloseMatch) notices.push(NO_CLOSE_MATCH_NOTICE);
    if (results.length === 0) notices.push('Nothing in the catalog matches these filters.');
    if (catalog.reindexProgress() !== null) reindexSeen = true;
    else if (reindexSeen) {
      reindexSeen = false;
      collageRenderer.clear();
    }
    const collage = await collageRenderer.render(results, { weights: embedder.weights, notices, loadImage });
    const t3 = performance.now();
    rlog.info(
      {
        kind: info.kind,
        width: info.width,
        height: info.height,
        results: results.length,
        bestDistance: best?.distance,
        noCloseMatch,
        embedMs: Math.round(t1 - t0),
        searchMs: Math.round((t2 - t1) * 10) / 10,
        collageMs: Math.round(t3 - t2),
        collageBytes: collage.length,
      },
      'answered',
    );
    const frozen = results.map((r) => ({ ...r, metadata: { ...r.metadata } }));
    return {
      requestId,
      results: frozen,
      weights: embedder.weights,
      noCloseMatch,
      notices,
      collage,
      images: () => loadResultImages(frozen),
    };
  }

  async function loadResultImages(results: readonly SimilarItem[]): Promise<ResultImage[]> {
    const out: ResultImage[] = [];
    for (const item of results) {
      try {
        const bytes = Buffer.from(await loadImage(item));
        const kind = sniff(bytes);
        const ext = kind.image ? extensionOf(kind.kind) : extname(item.path).slice(1).toLowerCase() || 'bin';
        const contentType = kind.image ? contentTypeOf(kind.kind) : 'application/octet-stream';
        out.push({ rank: item.rank, filename: resultFilename(item, ext), bytes, contentType });
      } catch (err) {
        log.warn({ id: item.id, err: asLookalikeError(err).message }, 'result image unreadable');
      }
    }
    return out;
  }

  const service: SimilarityService = {
    async findSimilar(image, opts) {
      const requestId = opts.requestId ?? randomUUID().slice(0, 8);
      const rlog = log.child({ requestId, user: opts.userId });
      const started = performance.now();
      try {
        if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
        const k = Math.max(1, Math.min(MAX_K, Math.trunc(opts.k ?? 6)));
        if (catalog.size() === 0) throw new LookalikeError('INDEX_EMPTY', 'The catalog has no items');
        const decision = rate.take(opts.userId);
        if (!decision.allowed) {
          throw new LookalikeError('RATE_LIMITED', `Rate limit of ${limits.ratePerMinute}/min reached`, {
            details: { retryAfterMs: decision.retryAfterMs },
          });
        }
        if (queue.size >= limits.queueMax) {
          throw new LookalikeError('BUSY', `Queue full (${queue.size} waiting)`, {
            details: { queueDepth: queue.size, inFlight: queue.pending },
          });
        }
        const result = await queue.add(() =>
          answer(image, requestId, k, opts.filters, opts.excludeDuplicates ?? true, rlog),
        );
        rlog.debug({ ms: Math.round(performance.now() - started) }, 'findSimilar done');
        return result;
      } catch (err) {
        const e = asLookalikeError(err);
        if (e.isUserFacing) rlog.info({ code: e.code, reason: e.message }, 'query refused');
        else rlog.error({ err }, 'query failed');
        throw e;
      }
    },

    async fetchImage(url, opts = {}) {
      if (closed) throw new LookalikeError('BUSY', 'Service is shutting down');
      // Downloads precede queries: bound them like the queue, so memory stays bounded too.
      if (fetching >= concurrency + limits.queueMax) {
        throw new LookalikeError('BUSY', `${fetching} downloads in progress`);
      }
      fetching++;
      try {
        return await fetcher.fetch(url, opts);
      } finally {
        fetching--;
      }
    },

    async reindex(onProgress) {
      if (reindexing !== undefined) {
        throw new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', {
          details: { progress: catalog.reindexProgress() },
        });
      }
      const rlog = log.child({ op: 'reindex' });
      rlog.info({}, 'reindex started');
      const run = catalog.reindex(onProgress);
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
        collageRenderer.clear();
      }
    },

    status(): ServiceStatus {
      const progress = catalog.reindexProgress();
      return {
        catalogSize: catalog.size(),
        weights: embedder.weights,
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
        await fetcher.close();
        if (options.ownsDependencies ?? true) {
          // The catalog stops a running reindex at its next checkpoint and waits for it.
          await catalog.close();
          if (reindexing !== undefined) await reindexing.catch(() => {});
          await embedder.dispose();
        } else if (reindexing !== undefined) {
          await reindexing.catch(() => {});
        }
        log.info({}, 'service closed');
      })();
      return closing;
    },
  };
  return service;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
