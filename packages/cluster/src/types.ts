/**
 * The shapes of the scale-out mode: the replica catalog every `lookalike start` opens on
 * PostgreSQL, and the reindexers behind its `reindex()` (in this process with `DATABASE_URL`
 * alone, or the BullMQ coordinator with `REDIS_URL` too).
 */
import type {
  CatalogPort,
  Embedder,
  ItemMetadata,
  Logger,
  ReindexProgress,
  ReindexRunOptions,
  ReindexSummary,
  WeightsInfo,
} from '@lookalike/core';
import type { IndexKind } from '@lookalike/index';
import type { PgCatalog } from '@lookalike/pg';
import type { Redis } from '@lookalike/redis';

/**
 * What a PostgreSQL item's `metadata` jsonb holds: the item's shown id (the file stem, or its
 * relative path when several files share the stem), its labels, and the file's size and mtime
 * when it was planned (so an unchanged file is not hashed again).
 */
export interface StoredMetadata {
  id: string;
  labels: ItemMetadata;
  file?: { size: number; mtimeMs: number };
}

/** The summary of a PostgreSQL-backed reindex. */
export interface ClusterReindexSummary extends ReindexSummary {
  /** Images embedded in this run (by this process, or by the workers). */
  embedded: number;
  /** Items whose labels changed without re-embedding. */
  relabelled: number;
  /** The `reindex_runs` row of the run. */
  runId: number;
  /** True when this run continued one a killed coordinator left `running`. */
  resumed: boolean;
  /** The catalog version when the run ended. */
  version: number;
}

/** Runs reindexes of one catalog; `ReplicaCatalog.reindex` delegates to it. */
export interface Reindexer {
  /**
   * One run: scan → plan against PostgreSQL → removals and relabels → embed (here, or through
   * the queue) → finish the run row. Single flight (across processes for the coordinator).
   * @throws LookalikeError REINDEX_IN_PROGRESS (details.progress), REINDEX_MASS_REMOVAL,
   *   REINDEX_NO_WORKERS (coordinator: no worker within the timeout; the jobs stay queued and the
   *   run resumes when started again), CATALOG_NOT_FOUND, DATABASE_UNAVAILABLE, REDIS_UNAVAILABLE
   */
  run(onProgress?: (p: ReindexProgress) => void, options?: ReindexRunOptions): Promise<ClusterReindexSummary>;
  /** The running reindex's progress: this process's, or (coordinator) the one any process publishes. */
  progress(): ReindexProgress | null;
  close(): Promise<void>;
}

/** Where the catalog lives and what it is embedded with (shared by every part). */
export interface ClusterCatalogSpec {
  /** The catalog's name in PostgreSQL (`LOOKALIKE_CATALOG_NAME`). */
  name: string;
  /** The loaded weights: their model key names the vectors in PostgreSQL (`modelKey`). */
  weights: WeightsInfo;
  dimension: number;
  /** This process's mount of the images (`LOOKALIKE_CATALOG_DIR`); source keys are relative to it. */
  imagesDir: string | undefined;
  labelsPath?: string | undefined;
}

export interface LocalReindexerOptions extends ClusterCatalogSpec {
  pg: PgCatalog;
  embedder: Embedder;
  /** Files per PostgreSQL write; embed calls in flight are twice this. @defaultValue 8 */
  batchSize?: number;
  logger?: Logger;
}

export interface CoordinatorOptions extends ClusterCatalogSpec {
  pg: PgCatalog;
  /** `REDIS_URL`: BullMQ opens its own connections on it. */
  redisUrl: string;
  /** A shared client for the lease and the progress. */
  redis: Redis;
  /** BullMQ attempts per job before the item is recorded as failed. @defaultValue 3 */
  attempts?: number;
  /** Say REINDEX_NO_WORKERS when no worker has been seen this long while jobs wait. @defaultValue 10000 */
  noWorkerTimeoutMs?: number;
  /** The reindex lease's ttl: a killed coordinator's run can be resumed this long after. @defaultValue 15000 */
  leaseTtlMs?: number;
  /** How often progress is measured and published. @defaultValue 500 */
  pollMs?: number;
  logger?: Logger;
}

export interface WorkerOptions extends ClusterCatalogSpec {
  pg: PgCatalog;
  redisUrl: string;
  embedder: Embedder;
  /** Jobs in flight (the embedder coalesces them into batches). @defaultValue 2 × the embedder's batch size, 16 */
  concurrency?: number;
  /** BullMQ lock per active job; a killed worker's jobs are retried by another after it. @defaultValue 30000 */
  lockDurationMs?: number;
  logger?: Logger;
}

export interface EmbedWorker {
  /** Jobs this worker finished (embedded, failed for good, or superseded). */
  processed(): number;
  /** Stops taking jobs, lets the active ones finish, closes its connections. */
  close(): Promise<void>;
}

/** One check of `/readyz`. */
export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

export interface ReplicaStatus {
  /** True once the first load from PostgreSQL finished. */
  loaded: boolean;
  /** The catalog version the in-memory index reflects. */
  version: number;
  /** Searchable items. */
  size: number;
  /** Whether the change listener is connected now. */
  following: boolean;
}

export interface ReplicaCatalogOptions extends ClusterCatalogSpec {
  pg: PgCatalog;
  /** Runs `reindex()`. */
  reindexer: Reindexer;
  /**
   * @defaultValue { kind: 'flat', efSearch: 96 }. `flat-sq8` is refused (CONFIG_INVALID): it re-ranks
   * with fp32 vectors a replica does not hold (its vectors live only in FAISS).
   */
  index?: { kind?: IndexKind; efSearch?: number };
  logger?: Logger;
}

/**
 * The catalog of an answering replica: every vector of the loaded model in an in-memory FAISS
 * index, loaded by binary COPY, then kept current by LISTEN/NOTIFY + "changes since version N"
 * applied as incremental adds and removals (and the same catch-up after a reconnect).
 */
export interface ReplicaCatalog extends CatalogPort {
  readonly weights: WeightsInfo;
  reindex(onProgress?: (p: ReindexProgress) => void, options?: ReindexRunOptions): Promise<ClusterReindexSummary>;
  status(): ReplicaStatus;
  /** Every searchable item: id (FAISS id = PostgreSQL item id), shown id, absolute path, metadata. */
  items(): { itemId: number; id: string; path: string; metadata: ItemMetadata }[];
  /** Resolves once the index reflects `version` or later (tests and benchmarks). */
  whenAt(version: number, timeoutMs?: number): Promise<void>;
}
