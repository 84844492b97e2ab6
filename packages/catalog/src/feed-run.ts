/**
 * One reindex of a feed catalog: read the feed (streamed, staged in SQLite) → the mass-removal
 * guard → remove the products gone from the feed → per product, its image (a conditional GET,
 * or the file beside a local feed) and, when the bytes are new, its vector, in a bounded pipeline
 * where downloads overlap embedding → commits of `batchSize` new vectors, searchable at once.
 *
 * Incremental by product id (`feed:<id>` items): a new id is downloaded and embedded; a changed
 * image URL, or other bytes behind the same URL, is re-embedded; a 304 or the same hash is
 * unchanged; a metadata-only change is a relabel (no embedding). Every failure is recorded per
 * product with its code; a transient download failure keeps the stored item.
 */
import type { Embedder, Logger, WeightsInfo } from '@lookalike/core';
import { LookalikeError } from '@lookalike/core';
import type { FeedField, FeedFormat } from '@lookalike/feeds';
import { failureOf, isSkippable } from './failures.js';
import { type DownloadFailure, FailureTally } from './feed-failures.js';
import { FeedImages, type ImageResult } from './feed-images.js';
import { runPipeline } from './feed-pipeline.js';
import { feedSourceForLog, openFeed } from './feed-source.js';
import {
  FEED_LINE_PREFIX,
  FEED_PATH_PREFIX,
  FeedTables,
  type ImageValidators,
  type StagedJob,
  type StagedProduct,
} from './feed-store.js';
import { FeedVectors } from './feed-vectors.js';
import { ImageCache } from './image-cache.js';
import { type LiveIndex, type LiveRelabel, type LiveUpsert, toLiveItem } from './live-index.js';
import { feedMassRemovalError } from './plan.js';
import type { ProgressTracker } from './progress.js';
import type { CatalogStore } from './store.js';
import type { CatalogReindexSummary, FeedFetcher, HostQueue } from './types.js';

const FAILED_FILES_CAP = 50;
/** Products staged per transaction while the feed is read. */
const STAGE_CHUNK = 1000;
/** Outcomes per commit when none carries a vector (304s, relabels, failures). */
const LIGHT_GROUP = 256;

/** The feed settings of a run (resolved by the catalog from its options and meta). */
export interface ResolvedFeed {
  source: string;
  format: FeedFormat | undefined;
  map: Partial<Record<FeedField, string>> | undefined;
  /** ISO 4217 code for prices written without one. */
  currency: string | undefined;
  includeOutOfStock: boolean;
}

export interface FeedRunContext {
  /** The database the run writes (during a model change: the shadow being re-embedded). */
  store: CatalogStore;
  /** The catalog the mass-removal guard compares with (during a model change the old one). @defaultValue store */
  baseline?: CatalogStore;
  live: () => LiveIndex;
  embedder: Embedder;
  weights: WeightsInfo;
  /** Where `image-cache/` lives. */
  dataDir: string;
  feed: ResolvedFeed;
  fetcher: FeedFetcher | undefined;
  hostQueue: HostQueue | undefined;
  batchSize: number;
  /** Embed calls in flight at most. */
  window: number;
  tracker: ProgressTracker;
  logger: Logger;
  closing: () => boolean;
  allowRemovals: boolean;
  maxRemovals?: number | undefined;
}

type FeedOutcome =
  | {
      kind: 'upsert';
      job: StagedJob;
      sha256: string;
      file: string;
      size: number;
      vector: Float32Array;
      validators: ImageValidators | undefined;
    }
  | { kind: 'same'; job: StagedJob; validators: ImageValidators | undefined; relabel: boolean }
  | { kind: 'failed'; job: StagedJob; failure: DownloadFailure; keep: boolean; relabel: boolean };

function closedError(): LookalikeError {
  return new LookalikeError('INTERNAL', 'Catalog closed during reindex');
}

/** Reads the feed into the staging table; row failures go to the tally. Returns the rows read. */
async function stageFeed(
  ctx: FeedRunContext,
  tables: FeedTables,
  tally: FailureTally,
): Promise<{ rows: number; localRoot: string | undefined }> {
  const { store, tracker } = ctx;
  // Loaded with the first feed run: folder catalogs never load the feed parsers.
  const { productMetadata, readFeed } = await import('@lookalike/feeds');
  const opened = await openFeed(ctx.feed.source, ctx.fetcher);
  tables.resetStaging();
  let rows = 0;
  const pending: StagedProduct[] = [];
  const flush = () => {
    store.transaction(() => tables.stage(pending));
    pending.length = 0;
  };
  try {
    const feed = readFeed(opened.body, {
      ...(ctx.feed.format === undefined ? {} : { format: ctx.feed.format }),
      ...(ctx.feed.map === undefined ? {} : { map: ctx.feed.map }),
      ...(opened.baseUrl === undefined ? {} : { baseUrl: opened.baseUrl }),
      ...(ctx.feed.currency === undefined ? {} : { currency: ctx.feed.currency }),
      name: opened.name,
    });
    for await (const row of feed) {
      if (ctx.closing()) throw closedError();
      rows++;
      if (row.ok) {
        const p = row.product;
        pending.push({
          path: `${FEED_PATH_PREFIX}${p.id}`,
          id: p.id,
          line: row.line,
          imageUrl: p.imageUrl,
          metadata: JSON.stringify(productMetadata(p)),
        });
        if (pending.length >= STAGE_CHUNK) {
          flush();
          tracker.update(rows);
        }
      } else {
        tables.stageFailure(`${FEED_LINE_PREFIX}${row.line}`, row.code, row.message);
        tally.add(row.code, `line ${row.line}`);
      }
    }
    flush();
  } finally {
    const body = opened.body as { destroy?: () => void };
    if (typeof body.destroy === 'function') body.destroy();
  }
  return { rows, localRoot: opened.localRoot };
}

export async function runFeedReindex(ctx: FeedRunContext): Promise<CatalogReindexSummary> {
  const { store, tracker, logger: log } = ctx;
  const baseline = ctx.baseline ?? store;
  const startedAt = tracker.startedAt;
  const shown = feedSourceForLog(ctx.feed.source);
  const tables = new FeedTables(store);
  const tally = new FailureTally(FAILED_FILES_CAP);

  // Phase: scanning (reading the feed).
  tracker.phase('scanning', 0);
  const { rows, localRoot } = await stageFeed(ctx, tables, tally);
  const products = tables.stagedCount();
  tracker.phase('scanning', rows, rows);

  // Before anything is written: a feed that lost most of the catalog needs allowRemovals.
  const deleted = tables.notStaged();
  if (!ctx.allowRemovals || ctx.maxRemovals !== undefined) {
    const wouldRemove =
      baseline === store ? deleted.length : baseline.rows().filter((r) => !tables.isStaged(r.path)).length;
    const confirmed = ctx.allowRemovals ? ctx.maxRemovals : undefined;
    if (!ctx.allowRemovals || wouldRemove > (ctx.maxRemovals ?? Number.POSITIVE_INFINITY)) {
      const guard = feedMassRemovalError(wouldRemove, baseline.count(), shown, confirmed);
      if (guard !== undefined) throw guard;
    }
  }

  store.transaction(() => {
    store.setMeta('weights_source', ctx.weights.source);
    store.setMeta('weights_md5', ctx.weights.md5);
    store.setMeta('weights_description', ctx.weights.description);
    store.setMeta('catalog_kind', 'feed');
    store.setMeta('feed_source', ctx.feed.source);
    store.setMeta('feed_format', ctx.feed.format ?? '');
    store.setMeta('feed_map', JSON.stringify(ctx.feed.map ?? {}));
    store.setMeta('feed_currency', ctx.feed.currency ?? '');
    store.setMeta('feed_include_out_of_stock', ctx.feed.includeOutOfStock ? '1' : '0');
  });

  // Phase: removing (products gone from the feed).
  tracker.phase('removing', deleted.length);
  const orphans = new Set<string>();
  if (deleted.length > 0) {
    store.transaction(() => {
      for (const r of deleted) store.deleteFid(r.fid);
      store.bumpGeneration();
    });
    ctx.live().apply({ remove: deleted.map((r) => r.fid) }, store.generation());
    for (const r of deleted) if (r.file != null) orphans.add(r.file);
  }
  tracker.update(deleted.length, true);

  // Phase: embedding (downloading and embedding, overlapped).
  const cache = new ImageCache(ctx.dataDir);
  const images = new FeedImages({
    tables,
    baseline: baseline === store ? undefined : new FeedTables(baseline),
    cache,
    fetcher: ctx.fetcher,
    queue: ctx.hostQueue,
    localRoot,
  });
  const vectors = new FeedVectors({ store, embedder: ctx.embedder, window: ctx.window });
  tracker.expected = products;
  tracker.phase('embedding', products);
  const counts = { added: 0, updated: 0, unchanged: 0, relabelled: 0, done: 0 };

  const process = async (job: StagedJob): Promise<FeedOutcome> => {
    const img = await images.get(job.imageUrl);
    if (!img.ok) return failed(job, img);
    const row = job.row;
    if (row !== undefined && row.sha256 === img.sha256) {
      img.bytes = undefined;
      return { kind: 'same', job, validators: img.validators, relabel: row.metadata !== job.metadata };
    }
    const size = img.bytes?.length ?? row?.size ?? 0;
    try {
      const vector = await vectors.get(img.sha256, () => takeBytes(img, cache));
      img.bytes = undefined;
      return { kind: 'upsert', job, sha256: img.sha256, file: img.file, size, vector, validators: img.validators };
    } catch (err) {
      if (!isSkippable(err)) throw err;
      return failed(job, { ...failureOf(err), transient: false });
    }
  };

  const commit = (outcomes: FeedOutcome[]): void => {
    const now = Date.now();
    const upsert: LiveUpsert[] = [];
    const remove: number[] = [];
    const relabel: LiveRelabel[] = [];
    store.transaction(() => {
      for (const o of outcomes) {
        const { job } = o;
        const row = job.row;
        if (o.kind === 'upsert') {
          const fid = store.upsert(
            {
              path: job.path,
              id: job.id,
              size: o.size,
              mtimeMs: 0,
              sha256: o.sha256,
              metadata: job.metadata,
              vector: o.vector,
              file: o.file,
            },
            now,
          );
          if (o.validators !== undefined) tables.putValidator(o.validators, now);
          upsert.push({ fid, vector: o.vector, item: toLiveItem(job.id, o.file, job.metadata) });
          continue;
        }
        if (o.kind === 'same' && o.validators !== undefined) tables.putValidator(o.validators, now);
        if (o.kind === 'failed') {
          tables.stageFailure(job.path, o.failure.code, o.failure.message);
          if (row !== undefined && !o.keep) {
            store.deleteFid(row.fid);
            remove.push(row.fid);
          }
        }
        if (o.relabel && row !== undefined) {
          store.setLabels(row.fid, job.id, job.metadata);
          relabel.push({ fid: row.fid, id: job.id, relPath: row.file ?? job.path, metadata: job.metadata });
        }
      }
      if (upsert.length > 0 || remove.length > 0) store.bumpGeneration();
    });
    ctx.live().apply({ upsert, remove, relabel }, store.generation());
    for (const o of outcomes) {
      const row = o.job.row;
      if (o.kind !== 'upsert' && o.relabel) counts.relabelled++;
      if (o.kind === 'upsert') {
        if (row === undefined) counts.added++;
        else {
          counts.updated++;
          if (row.file != null && row.file !== o.file) orphans.add(row.file);
        }
      } else if (o.kind === 'same') counts.unchanged++;
      else {
        tally.add(o.failure.code, o.job.id);
        if (!o.keep) {
          if (row?.file != null) orphans.add(row.file);
          if (tracker.expected !== null) tracker.expected--;
        }
        log.debug({ id: o.job.id, code: o.failure.code }, 'product skipped');
      }
    }
    counts.done += outcomes.length;
    tracker.update(counts.done);
  };

  const { stopped } = await runPipeline(tables.jobs(), {
    concurrency: Math.max(16, 4 * ctx.window),
    batchSize: ctx.batchSize,
    lightGroup: LIGHT_GROUP,
    shouldStop: ctx.closing,
    run: process,
    heavy: (o) => o.kind === 'upsert',
    commit,
  });
  if (stopped) throw closedError();

  store.transaction(() => tables.replaceFailures(Date.now()));
  tables.resetStaging();
  await removeOrphans(orphans, cache, store, baseline, log);

  const size = ctx.live().count();
  tracker.phase('done', size, size);
  const summary: CatalogReindexSummary = {
    added: counts.added,
    updated: counts.updated,
    removed: deleted.length,
    unchanged: counts.unchanged,
    failed: tally.total,
    failedFiles: tally.firstNames(),
    durationMs: Date.now() - startedAt,
    total: rows,
    embedded: vectors.embedded,
    relabelled: counts.relabelled,
    collisions: [],
    size,
    failuresByCode: tally.byCode(),
    downloads: images.downloads,
    notModified: images.notModified,
  };
  log.info(
    { ...summary, feed: shown, failedFiles: summary.failedFiles.slice(0, 5), failuresByCode: undefined },
    'feed reindex finished',
  );
  return summary;
}

/** The outcome of a product whose image failed: a transient failure keeps a stored item (relabelled). */
function failed(job: StagedJob, failure: DownloadFailure): FeedOutcome {
  const keep = job.row !== undefined && failure.transient;
  return { kind: 'failed', job, failure, keep, relabel: keep && job.row?.metadata !== job.metadata };
}

/** The bytes to embed, handed over once (the embedder may detach them): then the cache file. */
async function takeBytes(img: Extract<ImageResult, { ok: true }>, cache: ImageCache): Promise<Buffer> {
  const bytes = img.bytes;
  img.bytes = undefined;
  return bytes ?? cache.read(img.file);
}

/** Cache files no item (of the run's store, or the catalog during a model change) points at any more. */
async function removeOrphans(
  files: ReadonlySet<string>,
  cache: ImageCache,
  store: CatalogStore,
  baseline: CatalogStore,
  log: Logger,
): Promise<void> {
  let removed = 0;
  for (const file of files) {
    const sha = /([0-9a-f]{64})\.[a-z0-9]+$/.exec(file)?.[1];
    if (sha === undefined || store.hasSha(sha) || (baseline !== store && baseline.hasSha(sha))) continue;
    try {
      await cache.remove(file);
      removed++;
    } catch (err) {
      log.warn({ err, file }, 'could not remove an unused cache file');
    }
  }
  if (removed > 0) log.debug({ removed }, 'unused image cache files removed');
}
