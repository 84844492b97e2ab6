/**
 * The PostgreSQL-mode pieces of an answering process: the reindexer behind `/reindex` (the
 * BullMQ coordinator with `REDIS_URL`, in this process otherwise), the replica catalog that
 * loads and follows the catalog, and what the state shared through Redis gives the service and
 * the bots (rate limits, "answered once" claims). Also the readiness of the process.
 */
import type { ClusterCatalogSpec, Reindexer, ReplicaCatalog } from '@lookalike/cluster';
import {
  type AsyncRateLimiter,
  type Config,
  createMemoryClaims,
  type Embedder,
  type EventClaims,
  type Logger,
  LookalikeError,
  type ReadinessCheck,
  type ReadinessProbe,
  readinessProbe,
  type WeightsInfo,
  withLocalClaims,
} from '@lookalike/core';
import type { Engines } from './engines.js';

/** What the catalog is and where its images are, from the config and the loaded model. */
export function clusterSpec(
  config: Config,
  embedder: { weights: WeightsInfo; dimension: number },
  dirs: { imagesDir: string | undefined; labelsPath: string | undefined } = config.catalog,
): ClusterCatalogSpec {
  return {
    name: config.scale.catalogName,
    weights: embedder.weights,
    dimension: embedder.dimension,
    imagesDir: dirs.imagesDir,
    labelsPath: dirs.labelsPath,
  };
}

/**
 * The reindexer of the PostgreSQL catalog: the coordinator when Redis is there too (workers
 * embed), this process otherwise.
 */
export async function openReindexer(
  config: Config,
  engines: Engines,
  spec: ClusterCatalogSpec,
  embedder: Embedder,
  logger: Logger,
): Promise<Reindexer> {
  const { createCoordinator, createLocalReindexer } = await import('@lookalike/cluster');
  const pg = engines.pg;
  if (pg === undefined) throw new LookalikeError('INTERNAL', 'openReindexer needs DATABASE_URL');
  if (engines.redis !== undefined && engines.redisUrl !== undefined) {
    return createCoordinator({
      ...spec,
      pg,
      redis: engines.redis,
      redisUrl: engines.redisUrl,
      attempts: config.scale.worker.attempts,
      noWorkerTimeoutMs: config.scale.noWorkerTimeoutMs,
      leaseTtlMs: config.scale.leaseMs,
      logger,
    });
  }
  return createLocalReindexer({ ...spec, pg, embedder, batchSize: config.embedder.batchSize, logger });
}

/** The replica's catalog, and its reindexer with it (closed first: a running run stops at a checkpoint). */
export async function openReplica(
  config: Config,
  engines: Engines,
  spec: ClusterCatalogSpec,
  embedder: Embedder,
  logger: Logger,
): Promise<ReplicaCatalog> {
  const { openReplicaCatalog } = await import('@lookalike/cluster');
  const pg = engines.pg;
  if (pg === undefined) throw new LookalikeError('INTERNAL', 'openReplica needs DATABASE_URL');
  const reindexer = await openReindexer(config, engines, spec, embedder, logger);
  let replica: ReplicaCatalog;
  try {
    replica = await openReplicaCatalog({ ...spec, pg, reindexer, index: config.index, logger });
  } catch (err) {
    await reindexer.close().catch(() => {});
    throw err;
  }
  return {
    ...replica,
    async close() {
      await reindexer.close();
      await replica.close();
    },
  };
}

/** What Redis shares between replicas: the service's rate limiters and the bots' claims. */
export interface SharedState {
  rateLimiters: { chat?: AsyncRateLimiter; page?: AsyncRateLimiter };
  claims: EventClaims;
}

/** The shared state on `engines.redis`; in this process's memory without Redis. */
export async function sharedState(config: Config, engines: Engines, logger: Logger): Promise<SharedState> {
  const redis = engines.redis;
  if (redis === undefined) return { rateLimiters: {}, claims: createMemoryClaims() };
  const { createEventDeduper, createSharedRateLimiter } = await import('@lookalike/redis');
  return {
    rateLimiters: {
      chat: createSharedRateLimiter(redis, { ratePerMinute: config.limits.ratePerMinute, prefix: 'lookalike:chat:' }),
      page: createSharedRateLimiter(redis, {
        ratePerMinute: config.limits.pageRatePerMinute,
        prefix: 'lookalike:page:',
      }),
    },
    claims: withLocalClaims(createEventDeduper(redis), { logger, name: 'Redis' }),
  };
}

/**
 * The process's readiness: the database and Redis answer (when configured), and the catalog is
 * loaded (a replica: loaded, its version, whether it follows changes right now).
 */
export function processReadiness(
  engines: Engines | undefined,
  catalog: { size(): number },
  replica: ReplicaCatalog | undefined,
): ReadinessProbe {
  const checks: Record<string, () => Promise<ReadinessCheck> | ReadinessCheck> = {};
  const pg = engines?.pg;
  const redis = engines?.redis;
  if (pg !== undefined) checks.database = async () => ({ ok: await pg.ping() });
  if (redis !== undefined) {
    checks.redis = async () => {
      const pong = await redis.ping();
      return pong === 'PONG' ? { ok: true } : { ok: false, detail: `PING answered ${pong}` };
    };
  }
  checks.index =
    replica === undefined
      ? () => ({ ok: true, detail: `${catalog.size()} items` })
      : () => {
          const s = replica.status();
          return {
            ok: s.loaded,
            detail: `version ${s.version}, ${s.size} items, ${s.following ? 'following changes' : 'not following changes (reconnecting)'}`,
          };
        };
  return readinessProbe(checks);
}
