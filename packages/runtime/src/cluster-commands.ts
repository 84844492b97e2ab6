/**
 * The PostgreSQL-mode wiring of the commands that do not answer: `lookalike index` (the
 * reindexer: the BullMQ coordinator with `REDIS_URL`, this process otherwise) and `lookalike
 * worker` (an embedding worker consuming the coordinator's jobs).
 */
import type { EmbedWorker, Reindexer } from '@lookalike/cluster';
import { type Config, type Logger, LookalikeError } from '@lookalike/core';
import type { ImageEmbedder } from '@lookalike/embedder';
import { clusterSpec, openReindexer } from './cluster-parts.js';
import { openEngines } from './engines.js';

export interface ClusterReindexing {
  reindexer: Reindexer;
  /** LOOKALIKE_CATALOG_NAME. */
  name: string;
  /** True with REDIS_URL: the run is coordinated and `lookalike worker`s embed. */
  coordinated: boolean;
  /** Closes the reindexer (a running run stops at a checkpoint), then Redis and PostgreSQL. */
  close(): Promise<void>;
}

export interface ClusterCommandOptions {
  config: Config;
  logger: Logger;
  /** The loaded model: the in-process reindexer and the worker embed with it; it names the vectors. */
  embedder: ImageEmbedder;
  /** The images folder and labels. @defaultValue config.catalog */
  catalog?: { imagesDir: string | undefined; labelsPath: string | undefined };
}

/**
 * Opens the reindexer of the PostgreSQL catalog `config.scale.catalogName` (migrating the
 * database first). The caller keeps the embedder.
 * @throws LookalikeError CONFIG_INVALID (no DATABASE_URL), DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE
 */
export async function openClusterReindexing(options: ClusterCommandOptions): Promise<ClusterReindexing> {
  const { config, logger, embedder } = options;
  if (config.scale.databaseUrl === undefined) {
    throw new LookalikeError('CONFIG_INVALID', 'The PostgreSQL reindexer needs DATABASE_URL', {
      details: { variables: ['DATABASE_URL'] },
    });
  }
  const engines = await openEngines(config, logger);
  try {
    const spec = clusterSpec(config, embedder, options.catalog ?? config.catalog);
    const reindexer = await openReindexer(config, engines, spec, embedder, logger);
    return {
      reindexer,
      name: spec.name,
      coordinated: engines.redis !== undefined,
      async close() {
        try {
          await reindexer.close();
        } finally {
          await engines.close();
        }
      },
    };
  } catch (err) {
    await engines.close().catch(() => {});
    throw err;
  }
}

/** The variables `lookalike worker` needs that are not set. */
export function missingWorkerVariables(config: Config): string[] {
  return [
    config.scale.databaseUrl === undefined ? 'DATABASE_URL' : undefined,
    config.scale.redisUrl === undefined ? 'REDIS_URL' : undefined,
    config.catalog.imagesDir === undefined ? 'LOOKALIKE_CATALOG_DIR' : undefined,
  ].filter((v): v is string => v !== undefined);
}

export interface WorkerRuntime {
  worker: EmbedWorker;
  /** Jobs in flight at most. */
  concurrency: number;
  /** The model key the worker writes its vectors under. */
  model: string;
  /**
   * Closes the worker (active jobs finish first), then Redis and PostgreSQL; once, however often
   * it is called. The caller keeps the embedder.
   */
  close(): Promise<void>;
}

/**
 * Starts an embedding worker of `config.scale.catalogName` on `REDIS_URL`'s queue, writing into
 * `DATABASE_URL`; it reads the images under LOOKALIKE_CATALOG_DIR (this machine's mount of the
 * shared folder). Resolves once it consumes.
 * @throws LookalikeError CONFIG_INVALID (a variable of `missingWorkerVariables`),
 *   DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE
 */
export async function startWorkerRuntime(options: ClusterCommandOptions): Promise<WorkerRuntime> {
  const { config, logger, embedder } = options;
  const missing = missingWorkerVariables(config);
  if (missing.length > 0) {
    throw new LookalikeError('CONFIG_INVALID', `lookalike worker needs ${missing.join(', ')}`, {
      details: { variables: missing },
    });
  }
  const engines = await openEngines(config, logger);
  try {
    const { modelKey, startEmbedWorker } = await import('@lookalike/cluster');
    const pg = engines.pg;
    const redisUrl = engines.redisUrl;
    if (pg === undefined || redisUrl === undefined) throw new LookalikeError('INTERNAL', 'engines not opened');
    const concurrency = config.scale.worker.concurrency;
    const worker = await startEmbedWorker({
      ...clusterSpec(config, embedder, options.catalog ?? config.catalog),
      pg,
      redisUrl,
      embedder,
      concurrency,
      lockDurationMs: config.scale.worker.lockMs,
      logger,
    });
    let closing: Promise<void> | undefined;
    return {
      worker,
      concurrency,
      model: modelKey(embedder.weights),
      close() {
        closing ??= worker.close().finally(() => engines.close());
        return closing;
      },
    };
  } catch (err) {
    await engines.close().catch(() => {});
    throw err;
  }
}
