/**
 * The shared wiring of every process that answers photos (`lookalike start`, the Discord-only
 * and Slack-only apps): configuration → embedder → catalog → SimilarityService (with its
 * inspector, fetcher and collage renderer). Each app's main.ts owns its root logger, its HTTP
 * server and its adapters; runProcess (process.ts) owns signals and shutdown.
 *
 * The embedder, catalog, renderer and fetcher packages (native addons, HTTP client) are loaded
 * when openRuntime runs, so importing this package stays cheap for commands that only log.
 */
import type { Catalog } from '@lookalike/catalog';
import {
  type Config,
  createSimilarityService,
  type Logger,
  type ServiceObserver,
  type SimilarityService,
  serviceSettingsFrom,
} from '@lookalike/core';
import type { EmbedderOptions, ImageEmbedder } from '@lookalike/embedder';
import { openPreviousModel } from './previous-model.js';

/** The embedder options that `config` describes (callers may spread overrides over them). */
export function embedderOptionsFrom(config: Config, logger: Logger): EmbedderOptions {
  const e = config.embedder;
  return {
    modelsDir: config.modelsDir,
    runtime: e.runtime,
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

/**
 * The scale-out variables that are set although this release does not use them yet (the
 * @lookalike/pg and @lookalike/redis stores exist, the wiring does not): openRuntime warns about
 * them instead of ignoring them silently.
 */
export function unwiredEngines(config: Pick<Config, 'scale'>): string[] {
  return Object.entries({ DATABASE_URL: config.scale.databaseUrl, REDIS_URL: config.scale.redisUrl })
    .filter(([, url]) => url !== undefined)
    .map(([name]) => name);
}

export interface OpenRuntimeOptions {
  config: Config;
  logger: Logger;
  /** An embedder opened by the caller (the CLI opens its own to print its warning). */
  embedder?: ImageEmbedder;
  /** The catalog folder and labels. @defaultValue config.catalog */
  catalog?: { imagesDir: string | undefined; labelsPath: string | undefined };
  /**
   * Open a catalog built with other weights: a model change. The stored vectors are kept and
   * answer (with the previous model, when `<modelsDir>/previous/` holds it) until the next
   * reindex has re-embedded everything, then the catalog swaps. @defaultValue true
   */
  allowModelMismatch?: boolean;
  /** Receives the service's timings and outcomes (the process's metrics). */
  observer?: ServiceObserver;
}

export interface Runtime {
  embedder: ImageEmbedder;
  /**
   * The model the catalog's vectors were made with, during a model change when it is kept in
   * `<modelsDir>/previous/`: queries use it until the catalog swaps, then the service disposes it.
   */
  previousEmbedder: ImageEmbedder | undefined;
  catalog: Catalog;
  service: SimilarityService;
  /** Closes the service, which stops a running reindex at a checkpoint, the catalog and the embedder. */
  close(): Promise<void>;
}

/**
 * Opens the process's one embedder, catalog and service.
 * @throws LookalikeError MODEL_NOT_FOUND, MODEL_INVALID, FAISS_UNAVAILABLE, INDEX_MODEL_MISMATCH
 */
export async function openRuntime(options: OpenRuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const engines = unwiredEngines(config);
  if (engines.length > 0) {
    // Said plainly rather than ignored: the scale-out stores exist as packages but are not wired in yet.
    logger.warn(
      { variables: engines },
      `${engines.join(' and ')} set, but this release still runs the embedded SQLite catalog in this process`,
    );
  }
  const [
    { createEmbedder, readDisplayableImage },
    { openCatalog },
    { createFetcher },
    { createCollageRenderer, createImageInspector },
  ] = await Promise.all([
    import('@lookalike/embedder'),
    import('@lookalike/catalog'),
    import('@lookalike/fetch'),
    import('@lookalike/render'),
  ]);
  const embedder = options.embedder ?? (await createEmbedder(embedderOptionsFrom(config, logger)));
  const dirs = options.catalog ?? config.catalog;
  let catalog: Catalog;
  let previousEmbedder: ImageEmbedder | undefined;
  try {
    previousEmbedder = await openPreviousModel({
      dataDir: config.dataDir,
      embedder: embedderOptionsFrom(config, logger),
      current: embedder.weights,
      logger,
    });
    catalog = await openCatalog({
      dataDir: config.dataDir,
      imagesDir: dirs.imagesDir,
      labelsPath: dirs.labelsPath,
      embedder,
      index: config.index,
      batchSize: config.embedder.batchSize,
      logger,
      allowModelMismatch: options.allowModelMismatch ?? true,
      answerFromStored: previousEmbedder !== undefined,
    });
  } catch (err) {
    await previousEmbedder?.dispose();
    await embedder.dispose();
    throw err;
  }
  const service = createSimilarityService({
    embedder,
    ...(previousEmbedder === undefined ? {} : { previousEmbedder }),
    catalog,
    inspector: createImageInspector(config.image),
    fetcher: createFetcher({ ...config.fetch, limits: config.image, logger }),
    collage: createCollageRenderer(),
    settings: serviceSettingsFrom(config),
    // Result images as people see them: HEIC catalog files become JPEG for tiles, cards and chats.
    loadImage: (item) => readDisplayableImage(item.path, config.image),
    logger,
    ...(options.observer === undefined ? {} : { observer: options.observer }),
  });
  return { embedder, previousEmbedder, catalog, service, close: () => service.close() };
}
