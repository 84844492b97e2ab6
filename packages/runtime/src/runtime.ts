/**
 * The shared wiring of every process that answers photos (`lookalike start`, the Discord-only
 * and Slack-only apps): configuration → (PostgreSQL, Redis) → embedder → catalog →
 * SimilarityService (with its inspector, fetcher and collage renderer). Each app's main.ts owns
 * its root logger, its HTTP server and its adapters; runProcess (process.ts) owns signals and
 * shutdown.
 *
 * Without `DATABASE_URL` the catalog is the embedded SQLite one in the data dir, exactly as
 * before: a folder of images, or a product feed (`LOOKALIKE_FEED`, downloaded through the feed
 * fetcher and host queue of feed-downloads.ts). With it, the catalog is a replica of the PostgreSQL catalog (loaded into FAISS, then
 * following changes), reindexed in this process or, with `REDIS_URL` too, by the BullMQ
 * coordinator and the workers. `REDIS_URL` also shares the rate limits and the bots'
 * "answered once" claims between replicas.
 *
 * The embedder, catalog, renderer, fetcher and engine packages (native addons, HTTP and database
 * clients) are loaded when openRuntime runs, so importing this package stays cheap for commands
 * that only log.
 */
import type { Catalog, FeedOptions } from '@lookalike/catalog';
import type { ReplicaCatalog } from '@lookalike/cluster';
import {
  type CatalogPort,
  type Config,
  createSimilarityService,
  type EventClaims,
  type Logger,
  LookalikeError,
  type ModelMigration,
  type ReadinessProbe,
  type ServiceObserver,
  type SimilarityService,
  serviceSettingsFrom,
  type WeightsInfo,
} from '@lookalike/core';
import type { EmbedderOptions, ImageEmbedder } from '@lookalike/embedder';
import { clusterSpec, openReplica, processReadiness, sharedState } from './cluster-parts.js';
import { type Engines, openEngines } from './engines.js';
import { type FeedDownloads, feedOptionsFrom, openFeedDownloads } from './feed-downloads.js';
import { openPreviousModel } from './previous-model.js';

/** The embedder options that `config` describes (callers may spread overrides over them). */
export function embedderOptionsFrom(config: Config, logger: Logger): EmbedderOptions {
  const e = config.embedder;
  return {
    modelsDir: config.modelsDir,
    runtime: e.runtime,
    precision: e.precision,
    resize: e.resize,
    exif: e.exif,
    threads: e.threads,
    batchSize: e.batchSize,
    batchSliceSize: e.batchSliceSize,
    workers: e.workers,
    maxPixels: config.image.maxPixels,
    maxBytes: config.image.maxBytes,
    logger,
  };
}

export interface OpenRuntimeOptions {
  config: Config;
  logger: Logger;
  /** An embedder opened by the caller (the CLI opens its own to print its warning). */
  embedder?: ImageEmbedder;
  /** The catalog folder and labels. @defaultValue config.catalog */
  catalog?: { imagesDir: string | undefined; labelsPath: string | undefined };
  /**
   * The product feed of a feed catalog (SQLite only); null: none, even when LOOKALIKE_FEED is set.
   * @defaultValue the feed config describes (LOOKALIKE_FEED …)
   */
  feed?: FeedOptions | null;
  /**
   * Open a catalog built with other weights: a model change. The stored vectors are kept and
   * answer (with the previous model, when `<modelsDir>/previous/` holds it) until the next
   * reindex has re-embedded everything, then the catalog swaps. @defaultValue true
   */
  allowModelMismatch?: boolean;
  /** Receives the service's timings and outcomes (the process's metrics). */
  observer?: ServiceObserver;
}

/** What start-up messages read of the catalog, in both modes. */
export interface RuntimeCatalogInfo {
  size: number;
  imagesDir: string | undefined;
  labelsPath: string | undefined;
  /** The feed of a feed catalog (its source as configured: a URL may carry a query string). */
  feed: { source: string } | undefined;
  indexKind: Config['index']['kind'];
  /** Weights the stored vectors were made with (undefined for a new SQLite catalog). */
  storedWeights: { source: string; md5: string } | undefined;
  /** True when the stored vectors were made with other weights (a SQLite model change to finish). */
  modelMismatch: boolean;
}

/** The catalog as the runtime's callers see it: the SQLite catalog, or a view of the replica. */
export interface RuntimeCatalog extends CatalogPort {
  readonly weights: WeightsInfo;
  answeringWeights(): WeightsInfo;
  migration(): ModelMigration | null;
  info(): RuntimeCatalogInfo;
}

/** Where the catalog lives. */
export type RuntimeStore =
  | { kind: 'sqlite'; catalog: Catalog }
  | {
      kind: 'postgres';
      /** The replica of the PostgreSQL catalog (status, version, whenAt). */
      catalog: ReplicaCatalog;
      /** LOOKALIKE_CATALOG_NAME. */
      name: string;
      /** True with REDIS_URL: reindexes are coordinated, `lookalike worker`s embed. */
      coordinated: boolean;
    };

export interface Runtime {
  embedder: ImageEmbedder;
  /**
   * The model the catalog's vectors were made with, during a model change when it is kept in
   * `<modelsDir>/previous/`: queries use it until the catalog swaps, then the service disposes it.
   * (SQLite only.)
   */
  previousEmbedder: ImageEmbedder | undefined;
  catalog: RuntimeCatalog;
  store: RuntimeStore;
  service: SimilarityService;
  /** "Answered once" for the bots: shared through Redis with REDIS_URL, this process's memory otherwise. */
  claims: EventClaims;
  /** What GET /readyz reports: database, Redis (when configured) and the index. */
  readiness: ReadinessProbe;
  /**
   * Closes the service (which stops a running reindex at a checkpoint, closes the catalog and
   * the embedder), then Redis and PostgreSQL.
   */
  close(): Promise<void>;
}

/**
 * Opens the process's one embedder, catalog and service (and its PostgreSQL and Redis clients).
 * @throws LookalikeError MODEL_NOT_FOUND, MODEL_INVALID, FAISS_UNAVAILABLE, INDEX_MODEL_MISMATCH,
 *   DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE (the URL named without its password), CONFIG_INVALID
 *   (PostgreSQL mode without LOOKALIKE_CATALOG_DIR)
 */
export async function openRuntime(options: OpenRuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const dirs = options.catalog ?? config.catalog;
  if (config.scale.databaseUrl !== undefined && dirs.imagesDir === undefined) {
    throw new LookalikeError(
      'CONFIG_INVALID',
      'DATABASE_URL is set but LOOKALIKE_CATALOG_DIR is not: a replica shows results from the images folder (the shared folder, mounted at this machine’s path)',
      { details: { variables: ['LOOKALIKE_CATALOG_DIR'] } },
    );
  }
  const engines = await openEngines(config, logger);
  let embedder: ImageEmbedder | undefined = options.embedder;
  let opened: OpenedCatalog | undefined;
  try {
    const [
      { createEmbedder, readDisplayableImage },
      { createFetcher },
      { createCollageRenderer, createImageInspector },
    ] = await Promise.all([import('@lookalike/embedder'), import('@lookalike/fetch'), import('@lookalike/render')]);
    embedder ??= await createEmbedder(embedderOptionsFrom(config, logger));
    opened = await openCatalogOf(options, engines, embedder, dirs);
    const shared = await sharedState(config, engines, logger);
    const service = createSimilarityService({
      embedder,
      ...(opened.previousEmbedder === undefined ? {} : { previousEmbedder: opened.previousEmbedder }),
      catalog: opened.catalog,
      inspector: createImageInspector(config.image),
      fetcher: createFetcher({ ...config.fetch, limits: config.image, logger }),
      collage: createCollageRenderer(),
      settings: serviceSettingsFrom(config),
      sharedRateLimiters: shared.rateLimiters,
      // Result images as people see them: HEIC catalog files become JPEG for tiles, cards and chats.
      loadImage: (item) => readDisplayableImage(item.path, config.image),
      logger,
      ...(options.observer === undefined ? {} : { observer: options.observer }),
    });
    const replica = opened.store.kind === 'postgres' ? opened.store.catalog : undefined;
    const downloads = opened.downloads;
    return {
      embedder,
      previousEmbedder: opened.previousEmbedder,
      catalog: opened.catalog,
      store: opened.store,
      service,
      claims: shared.claims,
      readiness: processReadiness(engines, opened.catalog, replica),
      async close() {
        try {
          await service.close();
        } finally {
          await downloads?.close().catch((err: unknown) => logger.warn({ err }, 'closing the feed fetcher failed'));
          await engines.close();
        }
      },
    };
  } catch (err) {
    // The catalog (with a replica's listener and reindexer) opened before a later step failed.
    await opened?.catalog.close().catch(() => {});
    await opened?.previousEmbedder?.dispose().catch(() => {});
    await embedder?.dispose().catch(() => {});
    await engines.close().catch(() => {});
    throw err;
  }
}

interface OpenedCatalog {
  catalog: RuntimeCatalog;
  store: RuntimeStore;
  previousEmbedder: ImageEmbedder | undefined;
  /** The feed catalog's fetcher and host queue (closed after the catalog). */
  downloads: FeedDownloads | undefined;
}

/** The SQLite catalog (and a model change's previous model), or the PostgreSQL replica. */
async function openCatalogOf(
  options: OpenRuntimeOptions,
  engines: Engines,
  embedder: ImageEmbedder,
  dirs: { imagesDir: string | undefined; labelsPath: string | undefined },
): Promise<OpenedCatalog> {
  const { config, logger } = options;
  if (engines.pg !== undefined) {
    const replica = await openReplica(config, engines, clusterSpec(config, embedder, dirs), embedder, logger);
    const view: RuntimeCatalog = {
      ...replica,
      answeringWeights: () => replica.weights,
      migration: () => null,
      info: () => ({
        size: replica.size(),
        imagesDir: dirs.imagesDir,
        labelsPath: dirs.labelsPath,
        feed: undefined,
        indexKind: config.index.kind,
        storedWeights: { source: replica.weights.source, md5: replica.weights.md5 },
        modelMismatch: false,
      }),
    };
    return {
      catalog: view,
      store: {
        kind: 'postgres',
        catalog: replica,
        name: config.scale.catalogName,
        coordinated: engines.redis !== undefined,
      },
      previousEmbedder: undefined,
      downloads: undefined,
    };
  }
  const { openCatalog, storedFeedSource } = await import('@lookalike/catalog');
  const feed = options.feed === null ? undefined : (options.feed ?? feedOptionsFrom(config));
  // Neither a feed nor a folder configured: the data dir's catalog may be a feed catalog (from
  // `lookalike index --feed`), which reopens its recorded feed and downloads through the fetcher.
  const recordedFeed =
    feed === undefined &&
    options.feed !== null &&
    dirs.imagesDir === undefined &&
    storedFeedSource(config.dataDir) !== undefined;
  const previousEmbedder = await openPreviousModel({
    dataDir: config.dataDir,
    embedder: embedderOptionsFrom(config, logger),
    current: embedder.weights,
    logger,
  });
  let downloads: FeedDownloads | undefined;
  try {
    downloads = feed === undefined && !recordedFeed ? undefined : await openFeedDownloads(config, logger);
    const catalog = await openCatalog({
      dataDir: config.dataDir,
      ...(feed === undefined ? { imagesDir: dirs.imagesDir, labelsPath: dirs.labelsPath } : { feed }),
      ...(downloads === undefined ? {} : { fetcher: downloads.fetcher, hostQueue: downloads.hostQueue }),
      embedder,
      index: config.index,
      batchSize: config.embedder.batchSize,
      logger,
      allowModelMismatch: options.allowModelMismatch ?? true,
      answerFromStored: previousEmbedder !== undefined,
    });
    return { catalog, store: { kind: 'sqlite', catalog }, previousEmbedder, downloads };
  } catch (err) {
    await downloads?.close().catch(() => {});
    await previousEmbedder?.dispose();
    throw err;
  }
}
