/**
 * The shared wiring of every process that answers photos (`lookalike start`, the Discord-only
 * and Slack-only apps): configuration → embedder → catalog → SimilarityService. Each app's
 * main.ts still owns its root logger, its HTTP server, its adapters and its signals.
 */
import { type Catalog, openCatalog } from '@lookalike/catalog';
import { type Config, createSimilarityService, type Logger, type SimilarityService } from '@lookalike/core';
import { createEmbedder, type EmbedderOptions, type ImageEmbedder } from '@lookalike/embedder';

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
    maxPixels: e.maxPixels,
    maxBytes: e.maxBytes,
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
   * Open a catalog built with other weights (search then fails with INDEX_MODEL_MISMATCH and the
   * next reindex re-embeds everything). @defaultValue true
   */
  allowModelMismatch?: boolean;
}

export interface Runtime {
  embedder: ImageEmbedder;
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
  const embedder = options.embedder ?? (await createEmbedder(embedderOptionsFrom(config, logger)));
  const dirs = options.catalog ?? config.catalog;
  let catalog: Catalog;
  try {
    catalog = await openCatalog({
      dataDir: config.dataDir,
      imagesDir: dirs.imagesDir,
      labelsPath: dirs.labelsPath,
      embedder,
      index: config.index,
      batchSize: config.embedder.batchSize,
      logger,
      allowModelMismatch: options.allowModelMismatch ?? true,
    });
  } catch (err) {
    await embedder.dispose();
    throw err;
  }
  const service = createSimilarityService({
    embedder,
    catalog,
    logger,
    limits: config.limits,
    fetch: config.fetch,
    image: { maxBytes: config.embedder.maxBytes, maxPixels: config.embedder.maxPixels },
    // The embedder runs one batch at a time and coalesces concurrent calls: two batches' worth
    // of queries in flight keeps it busy; the rest wait in the bounded queue.
    concurrency: 2 * config.embedder.batchSize,
  });
  return { embedder, catalog, service, close: () => service.close() };
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT (in-flight answers finish inside it), then sets
 * exit code 0. If stopping takes longer than `graceMs`, the process exits with 1. Unhandled
 * rejections are logged instead of crashing the process.
 */
export function stopOnSignal(log: Logger, stop: () => Promise<void>, graceMs = 30_000): void {
  let stopping = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight answers');
    const force = setTimeout(() => {
      log.error({}, 'shutdown took too long; exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    try {
      await stop();
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    log.info({}, 'bye');
    process.exitCode = 0;
  };
  process.once('SIGTERM', (s) => void onSignal(s));
  process.once('SIGINT', (s) => void onSignal(s));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}
