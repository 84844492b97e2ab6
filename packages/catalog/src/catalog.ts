/**
 * The catalog: SQLite state (the source of truth), the live FAISS index derived from the stored
 * vectors, and the incremental reindex. Implements core's `CatalogPort`. This file wires the
 * parts together: plan.ts (what changed), run.ts (embed and commit), feed-run.ts (the same for a
 * product feed), live-index.ts + search.ts (what is searched), index-file.ts (the saved index),
 * migration.ts (a model change re-embedded into a shadow, then swapped in), progress.ts.
 * A catalog is a folder of images or a product feed (recorded in meta `catalog_kind`).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  type Embedder,
  type Logger,
  LookalikeError,
  type ModelMigration,
  type ReindexProgress,
  type ReindexRunOptions,
  type SearchOptions,
  type SimilarItem,
  silentLogger,
  type WeightsInfo,
} from '@lookalike/core';
import type { IndexKind } from '@lookalike/index';
import { mismatchError } from './failures.js';
import { resolveFeed } from './feed-options.js';
import { type ResolvedFeed, runFeedReindex } from './feed-run.js';
import {
  type IndexFiles,
  type IndexSpec,
  openLiveIndex,
  rebuildLiveIndex,
  removeLeftoverTemps,
  saveLiveIndex,
} from './index-file.js';
import type { LiveIndex } from './live-index.js';
import {
  CATALOG_FILE,
  discardShadow,
  Migration,
  SHADOW_FILE,
  storedWeightsOf,
  swapInShadow,
  weightsInfoOf,
} from './migration.js';
import { ProgressTracker } from './progress.js';
import { runReindex } from './run.js';
import { facetOf, searchItems } from './search.js';
import { CatalogStore } from './store.js';
import type {
  Catalog,
  CatalogInfo,
  CatalogItem,
  CatalogOptions,
  CatalogReindexSummary,
  FeedFetcher,
  HostQueue,
} from './types.js';

/**
 * Opens (or creates) the catalog in `dataDir`: checks the weights identity, loads the FAISS
 * index (rebuilding it from the stored vectors, without blocking the event loop, when it is
 * missing, corrupt or out of date). When the stored vectors were made with other weights (and
 * `allowModelMismatch`), they are kept: the next reindex re-embeds into a shadow and swaps.
 * @throws LookalikeError INDEX_MODEL_MISMATCH (unless `allowModelMismatch`), CONFIG_INVALID (a feed
 *   column map naming an unknown field)
 */
export async function openCatalog(options: CatalogOptions): Promise<Catalog> {
  const c = new SqliteCatalog(options);
  try {
    await c.init();
  } catch (err) {
    await c.close().catch(() => {});
    throw err;
  }
  return c;
}

class SqliteCatalog implements Catalog {
  readonly weights: WeightsInfo;
  readonly #dataDir: string;
  readonly #embedder: Embedder;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #kind: IndexKind;
  readonly #efSearch: number;
  /** `catalog.sqlite`: replaced only by the swap that ends a model change. */
  #store: CatalogStore;
  readonly #files: IndexFiles;
  #imagesDir: string | undefined;
  #labelsPath: string | undefined;
  /** The feed of a feed catalog (undefined: a folder catalog). */
  readonly #feed: ResolvedFeed | undefined;
  readonly #fetcher: FeedFetcher | undefined;
  readonly #hostQueue: HostQueue | undefined;
  /** The live index that answers: the stored vectors, or the shadow's during a model change without the previous model. */
  #live: LiveIndex | undefined;
  /** Weights of the stored vectors when they are not the loaded ones (a model change to re-embed). */
  #mismatch: { source: string; md5: string } | undefined;
  /** Whether the stored vectors keep answering during a model change (the caller holds the previous model). */
  readonly #answerFromStored: boolean;
  /** The shadow re-embed of a model change (set by init when #mismatch). */
  #migration: Migration | undefined;
  #running: Promise<CatalogReindexSummary> | undefined;
  #tracker: ProgressTracker | undefined;
  /** The background save chain; `#saveQueued` while one waits to start (it saves the state of then). */
  #saving: Promise<void> = Promise.resolve();
  #saveQueued = false;
  /** Generation of the index file on disk (-1: none or unknown). */
  #savedGeneration = -1;
  #closing = false;
  #closed = false;
  #closedPromise: Promise<void> | undefined;

  constructor(options: CatalogOptions) {
    this.#dataDir = resolve(options.dataDir);
    this.#embedder = options.embedder;
    this.weights = options.embedder.weights;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'catalog' });
    this.#batchSize = Math.max(1, options.batchSize ?? 8);
    this.#efSearch = options.index?.efSearch ?? 96;
    this.#files = { indexPath: join(this.#dataDir, 'index.faiss'), sidecarPath: join(this.#dataDir, 'index.json') };
    this.#answerFromStored = options.answerFromStored === true;
    this.#store = new CatalogStore(join(this.#dataDir, CATALOG_FILE));
    this.#fetcher = options.fetcher;
    this.#hostQueue = options.hostQueue;
    try {
      this.#feed = resolveFeed(options, this.#store);
    } catch (err) {
      this.#store.close();
      throw err;
    }
    const storedKind = this.#store.getMeta('index_kind');
    this.#kind = options.index?.kind ?? (storedKind === 'hnsw' || storedKind === 'flat-sq8' ? storedKind : 'flat');
    const storedImages = this.#store.getMeta('images_dir');
    const storedLabels = this.#store.getMeta('labels_path') || undefined;
    this.#imagesDir = options.imagesDir !== undefined ? resolve(options.imagesDir) : storedImages;
    this.#labelsPath =
      options.labelsPath !== undefined
        ? resolve(options.labelsPath)
        : options.imagesDir !== undefined && resolve(options.imagesDir) !== storedImages
          ? undefined
          : storedLabels;
    const source = this.#store.getMeta('weights_source');
    const md5 = this.#store.getMeta('weights_md5');
    if (source !== undefined && md5 !== undefined && (source !== this.weights.source || md5 !== this.weights.md5)) {
      if (this.#store.count() > 0) {
        this.#mismatch = { source, md5 };
        if (options.allowModelMismatch !== true) {
          this.#store.close();
          throw mismatchError(this.#mismatch, this.weights);
        }
      }
    }
  }

  async init(): Promise<void> {
    const stored = storedWeightsOf(this.#store);
    if (this.#mismatch !== undefined && stored !== undefined) {
      this.#migration = await Migration.open({
        dataDir: this.#dataDir,
        from: weightsInfoOf(stored),
        weights: this.weights,
        spec: this.#shadowSpec,
        logger: this.#logger,
      });
      this.#logger.warn(
        { stored: stored.md5, loaded: this.weights.md5, answering: this.#answerFromStored ? 'stored' : 'new' },
        'the catalog was built with other weights: the next reindex re-embeds it, keeping the stored vectors until it completes',
      );
      if (!this.#answerFromStored) {
        // The saved index is not opened (it holds the stored vectors): its leftover temps go here.
        await removeLeftoverTemps(this.#dataDir, this.#logger);
        this.#live = this.#migration.live;
        return;
      }
    } else discardShadow(this.#dataDir);
    const { live, saved } = await openLiveIndex({
      files: this.#files,
      store: this.#store,
      spec: this.#spec,
      weightsMd5: stored?.md5 ?? this.weights.md5,
      logger: this.#logger,
    });
    this.#live = live;
    this.#store.setMeta('index_kind', this.#kind);
    if (saved) this.#savedGeneration = live.generation;
    else this.#requestSave();
  }

  /** The spec of the index of `catalog.sqlite` (flat-sq8 re-ranks with its vectors). */
  get #spec(): IndexSpec {
    return {
      kind: this.#kind,
      dimension: this.#embedder.dimension,
      efSearch: this.#efSearch,
      exactVectors: (fids) => this.#store.vectorsByFid(fids),
      logger: this.#logger,
    };
  }

  /**
   * The spec of the shadow's index during a model change: its vectors are the shadow database's,
   * which is `this.#store` once the swap that ends the change has made it the catalog.
   */
  get #shadowSpec(): IndexSpec {
    return { ...this.#spec, exactVectors: (fids) => (this.#migration?.store ?? this.#store).vectorsByFid(fids) };
  }

  /**
   * Saves the live index in the background, after any save still running; a save that waits to
   * start already covers later requests. A failed save is logged (the next start rebuilds).
   */
  #requestSave(): void {
    const live = this.#live;
    // During a model change the saved index stays the stored vectors' (the shadow is rebuilt from its database).
    if (live === undefined || this.#saveQueued || this.#closed || this.#migration !== undefined) return;
    if (live.generation < 0 || live.generation === this.#savedGeneration) return;
    this.#store.setMeta('index_kind', this.#kind);
    this.#saveQueued = true;
    this.#saving = this.#saving.then(async () => {
      this.#saveQueued = false;
      const now = this.#live;
      if (now === undefined || now.generation < 0 || now.generation === this.#savedGeneration) return;
      const generation = now.generation;
      if (await saveLiveIndex(now, this.#files, this.weights.md5, this.#logger)) this.#savedGeneration = generation;
    });
  }

  size(): number {
    return this.#live?.count() ?? 0;
  }

  answeringWeights(): WeightsInfo {
    const m = this.#migration;
    return m !== undefined && this.#answerFromStored ? m.from : this.weights;
  }

  migration(): ModelMigration | null {
    const m = this.#migration;
    if (m === undefined) return null;
    const expected = this.#tracker?.expected ?? null;
    return {
      answering: this.answeringWeights(),
      target: this.weights,
      done: m.live.count(),
      total: expected ?? this.#store.count(),
      running: this.#running !== undefined,
    };
  }

  info(): CatalogInfo {
    const source = this.#store.getMeta('weights_source');
    const md5 = this.#store.getMeta('weights_md5');
    const stats = this.#live?.index.stats();
    const feed = this.#feed;
    return {
      dataDir: this.#dataDir,
      kind: feed === undefined ? 'folder' : 'feed',
      imagesDir: feed === undefined ? this.#imagesDir : undefined,
      feed:
        feed === undefined
          ? undefined
          : { source: feed.source, format: feed.format, includeOutOfStock: feed.includeOutOfStock },
      labelsPath: this.#labelsPath,
      size: this.size(),
      generation: this.#live?.generation ?? 0,
      indexKind: this.#kind,
      storedWeights: source !== undefined && md5 !== undefined ? { source, md5 } : undefined,
      modelMismatch: this.#mismatch !== undefined,
      indexStats: stats ?? { live: 0, stored: 0, tombstones: 0, compacting: false, compactions: 0 },
    };
  }

  items(): CatalogItem[] {
    const live = this.#live;
    if (live === undefined) return [];
    return [...live.items()].map((it) => ({ id: it.id, path: this.#absPath(it.relPath), metadata: it.metadata }));
  }

  vectorOf(id: string): Float32Array | undefined {
    const m = this.#migration;
    return (m !== undefined && !this.#answerFromStored ? m.store : this.#store).vectorById(id);
  }

  /** Feed items' images are cache files in the data dir; folder items' are in the images folder. */
  #absPath(relPath: string): string {
    if (this.#feed !== undefined) return join(this.#dataDir, relPath);
    return this.#imagesDir === undefined ? relPath : join(this.#imagesDir, relPath);
  }

  search(query: Float32Array, options: SearchOptions): SimilarItem[] {
    const answering = this.answeringWeights();
    const md5 = options.weightsMd5 ?? this.weights.md5;
    if (md5 !== answering.md5) throw mismatchError(answering, { ...this.weights, md5 });
    const live = this.#live;
    if (live === undefined) throw new LookalikeError('INTERNAL', 'Catalog is closed');
    const includeOutOfStock = options.includeOutOfStock ?? this.#feed?.includeOutOfStock ?? false;
    return searchItems(live, query, { ...options, includeOutOfStock }, (p) => this.#absPath(p));
  }

  facet(field: string): string[] {
    const live = this.#live;
    return live === undefined ? [] : facetOf(live.items(), field);
  }

  reindexProgress(): ReindexProgress | null {
    return this.#tracker?.current() ?? null;
  }

  reindex(onProgress?: (p: ReindexProgress) => void, options: ReindexRunOptions = {}): Promise<CatalogReindexSummary> {
    if (this.#closed || this.#closing) return Promise.reject(new LookalikeError('INTERNAL', 'Catalog is closed'));
    if (this.#running !== undefined) {
      const progress = this.reindexProgress();
      return Promise.reject(
        new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', { details: { progress } }),
      );
    }
    const { maxRemovals } = options;
    if (maxRemovals !== undefined && !(Number.isSafeInteger(maxRemovals) && maxRemovals >= 0)) {
      return Promise.reject(
        new LookalikeError('BAD_REQUEST', `maxRemovals must be a non-negative integer, got ${String(maxRemovals)}`),
      );
    }
    const log = this.#logger.child({ op: 'reindex' });
    const tracker = new ProgressTracker({
      startedAt: Date.now(),
      searchable: () => this.size(),
      emit: (p) => {
        if (onProgress === undefined) return;
        try {
          onProgress(p);
        } catch (err) {
          log.warn({ err }, 'progress listener threw');
        }
      },
    });
    // Non-null progress from this moment on (phase 'scanning') until the run ends.
    this.#tracker = tracker;
    // Started on the next microtask, so #running is set before any progress callback runs.
    const run = Promise.resolve()
      .then(() => this.#run(tracker, log, options.allowRemovals === true, maxRemovals))
      .finally(() => {
        this.#running = undefined;
        this.#tracker = undefined;
        this.#requestSave();
      });
    this.#running = run;
    return run;
  }

  async #run(
    tracker: ProgressTracker,
    log: Logger,
    allowRemovals: boolean,
    maxRemovals: number | undefined,
  ): Promise<CatalogReindexSummary> {
    const imagesDir = this.#imagesDir;
    if (imagesDir === undefined && this.#feed === undefined) {
      throw new LookalikeError('CATALOG_NOT_FOUND', 'No images folder is configured for this catalog', {
        userMessage: 'No catalog folder is configured. Set LOOKALIKE_CATALOG_DIR or run `lookalike index DIR`.',
      });
    }
    // During a model change the run re-embeds into the shadow; the guard compares with the catalog.
    const m = this.#migration;
    const target =
      m === undefined ? { store: this.#store, live: () => this.#live! } : { store: m.store, live: () => m.live };
    // The live index fell behind the database (a failed apply): rebuild it first, in chunks.
    const live = target.live();
    if (live.generation !== target.store.generation()) {
      log.warn({ live: live.generation, stored: target.store.generation() }, 'live index is stale; rebuilding');
      const rebuilt = (await rebuildLiveIndex(target.store, m === undefined ? this.#spec : this.#shadowSpec, log)).live;
      if (m === undefined) this.#replaceLive(rebuilt);
      else this.#replaceShadowLive(m, rebuilt);
    }
    if (m !== undefined)
      log.warn(
        { from: m.from.md5, to: this.weights.md5, done: m.live.count() },
        'weights changed: re-embedding every image into the shadow',
      );
    const common = {
      store: target.store,
      baseline: this.#store,
      live: target.live,
      embedder: this.#embedder,
      weights: this.weights,
      batchSize: this.#batchSize,
      window: 2 * this.#batchSize,
      tracker,
      logger: log,
      closing: () => this.#closing,
      allowRemovals,
      maxRemovals,
    };
    const summary =
      this.#feed !== undefined
        ? await runFeedReindex({
            ...common,
            dataDir: this.#dataDir,
            feed: this.#feed,
            fetcher: this.#fetcher,
            hostQueue: this.#hostQueue,
          })
        : await runReindex({ ...common, imagesDir: imagesDir!, labelsPath: this.#labelsPath });
    if (m !== undefined) this.#swap(m, log);
    return summary;
  }

  /** Ends a model change: the complete shadow becomes the catalog and its index answers (one synchronous step). */
  #swap(m: Migration, log: Logger): void {
    this.#store = swapInShadow(this.#dataDir, m.store, this.#store);
    this.#migration = undefined;
    this.#mismatch = undefined;
    this.#replaceLive(m.live);
    // The saved index is the old vectors': the save after this run replaces it.
    this.#savedGeneration = -1;
    log.info(
      { from: m.from.md5, to: this.weights.md5, size: m.live.count() },
      'model change complete: the re-embedded catalog answers',
    );
  }

  #replaceShadowLive(m: Migration, next: LiveIndex): void {
    const answering = this.#live === m.live;
    const old = m.live;
    m.live = next;
    if (answering) this.#live = next;
    old.index.close().catch((err: unknown) => this.#logger.warn({ err }, 'closing the old index failed'));
  }

  #replaceLive(next: LiveIndex): void {
    const old = this.#live;
    this.#live = next;
    if (old !== undefined && old !== next) {
      old.index.close().catch((err: unknown) => this.#logger.warn({ err }, 'closing the old index failed'));
    }
  }

  async whenIdle(): Promise<void> {
    await this.#saving;
    await this.#live?.index.whenIdle();
  }

  async close(): Promise<void> {
    if (this.#closed || this.#closing) {
      await this.#closedPromise;
      return;
    }
    this.#closing = true;
    this.#closedPromise = (async () => {
      if (this.#running !== undefined) await this.#running.catch(() => {});
      await this.#saving;
      const m = this.#migration;
      if (m !== undefined) {
        if (this.#live === m.live) this.#live = undefined;
        await m.close();
      }
      await this.#live?.index.close();
      this.#closed = true;
      this.#live = undefined;
      this.#store.close();
    })();
    await this.#closedPromise;
  }
}

/** Removes a catalog's data files (database, index). */
export async function removeCatalogData(dataDir: string): Promise<void> {
  for (const db of [CATALOG_FILE, SHADOW_FILE]) {
    for (const suffix of ['', '-wal', '-shm']) await rm(join(dataDir, `${db}${suffix}`), { force: true });
  }
  for (const f of ['index.faiss', 'index.json']) await rm(join(dataDir, f), { force: true });
}

/** True when `dataDir` holds a catalog database. */
export function catalogExists(dataDir: string): boolean {
  return existsSync(join(isAbsolute(dataDir) ? dataDir : resolve(dataDir), CATALOG_FILE));
}
