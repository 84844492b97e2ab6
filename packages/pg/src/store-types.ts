/**
 * The shapes of the PostgreSQL catalog store (store.ts implements `PgStore`): what is written,
 * what is read back, failures and reindex runs.
 */
import type { CatalogListener, ListenOptions, VersionEvent } from './listen.js';
import type { VectorChunk } from './vectors.js';

/**
 * One embedded item to write: its content (hash, metadata) and its vector of one model (`model` is
 * the weights identity: md5 plus precision).
 */
export interface ItemInput {
  sourceKey: string;
  contentHash: string;
  /**
   * The item's content hash as the writer's plan saw it in the store (`listItems`), `null` when the
   * plan saw no live item. The write applies only while the row is still so (or is new): a late job
   * never overwrites newer content. See `UpsertResult.stale`.
   */
  expectedHash: string | null;
  metadata: Record<string, unknown>;
  vector: Float32Array;
  model: string;
}

/** A live item and its vector of the model asked about. */
export interface StoredItem {
  /** The item's id: stable across content changes, the id a replica gives FAISS. */
  id: number;
  sourceKey: string;
  contentHash: string;
  metadata: Record<string, unknown>;
  vector: Float32Array;
  /** The catalog version that last changed it (its content, metadata or this model's vector). */
  version: number;
}

/**
 * An item the model has no vector for any more: removed, or its content changed under another
 * model and this one has not embedded it yet. It may name an id the caller never held.
 */
export interface RemovedItem {
  id: number;
  sourceKey: string;
  version: number;
}

/** A live item as a planner sees it: its content hash, metadata and whether the model has its vector. */
export interface ListedItem {
  sourceKey: string;
  contentHash: string;
  metadata: Record<string, unknown>;
  embedded: boolean;
}

/** A new metadata for a live item whose content is unchanged (a relabel: no re-embedding). */
export interface RelabelInput {
  sourceKey: string;
  /** The content hash the planner saw: the row is relabelled only while it still holds this content. */
  expectedHash: string;
  metadata: Record<string, unknown>;
}

/** A live item's metadata, without vectors (what a replica joins to the vectors it loaded). */
export interface LiveItemRow {
  /** The item's id (a replica's FAISS id). */
  id: number;
  sourceKey: string;
  metadata: Record<string, unknown>;
  /** The catalog version that last changed the item's content or metadata. */
  version: number;
}

export interface WriteResult {
  /** The catalog version after the write (unchanged when nothing changed). */
  version: number;
  /** Rows inserted, changed, revived or removed; rows already equal are left alone. */
  changed: number;
}

/** An upsert skipped because the row is no longer as the writer's plan saw it. */
export interface StaleItem {
  sourceKey: string;
  /** The row's content hash now (`null`: removed). */
  contentHash: string | null;
}

export interface UpsertResult extends WriteResult {
  /** Rows not written: their `expectedHash` no longer matches the row, which holds other content. */
  stale: StaleItem[];
}

export interface Changes {
  /** The version asked about. */
  since: number;
  /** The catalog version the changes bring the caller to. */
  version: number;
  upserts: StoredItem[];
  removals: RemovedItem[];
}

export interface FailureInput {
  sourceKey: string;
  contentHash?: string;
  code: string;
  message: string;
}

export interface ItemFailure extends Required<FailureInput> {
  attempts: number;
}

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

export interface ReindexRun {
  id: number;
  catalog: string;
  startedAt: Date;
  finishedAt: Date | undefined;
  status: RunStatus;
  counts: Record<string, number>;
}

export interface LoadResult {
  /** The catalog version the loaded vectors are a snapshot of: follow changes from here. */
  version: number;
  rows: number;
  dimension: number | undefined;
}

export interface LoadOptions {
  /** Vector bytes per chunk (default 16 MiB: 2,048 rows of 2048 floats). */
  chunkBytes?: number;
}

export interface PgStore {
  /** The catalog's version (0 for a catalog never written). */
  catalogVersion(catalog: string): Promise<number>;
  /**
   * Inserts or updates items and their vectors in one transaction that bumps the version and
   * notifies listeners. A row whose `expectedHash` no longer matches is skipped and reported stale.
   */
  upsertItems(catalog: string, rows: readonly ItemInput[]): Promise<UpsertResult>;
  /** Tombstones items (every model's vector dropped) in one transaction that bumps the version and notifies. */
  removeItems(catalog: string, sourceKeys: readonly string[]): Promise<WriteResult>;
  /** The live items, by source key, with whether `model` has their vector (what a reindex plans against). */
  listItems(catalog: string, model: string): Promise<ListedItem[]>;
  /**
   * True when the live item at `sourceKey` holds `contentHash` and `model` has its vector (a job
   * that already stored its work, e.g. run again after its worker died between commit and ack).
   */
  isEmbedded(catalog: string, sourceKey: string, contentHash: string, model: string): Promise<boolean>;
  /**
   * Sets the metadata of live items still holding `expectedHash` (others are skipped), in one
   * transaction that bumps the version and notifies when something changed. Vectors stay; a
   * replica sees the items as upserts in `changesSince`.
   */
  relabelItems(catalog: string, rows: readonly RelabelInput[]): Promise<WriteResult>;
  /** The live items' ids and metadata, no vectors (a replica's load, beside `loadVectors`). */
  liveItems(catalog: string): Promise<LiveItemRow[]>;
  /** Every change above `version` as `model` sees it, as of one snapshot: only that model's vectors. */
  changesSince(catalog: string, version: number, model: string): Promise<Changes>;
  /** Streams the live items' ids and vectors of one model (binary COPY) into Float32Array chunks. */
  loadVectors(
    catalog: string,
    model: string,
    onChunk: (chunk: VectorChunk) => void | Promise<void>,
    options?: LoadOptions,
  ): Promise<LoadResult>;
  /** Follows catalog versions on a dedicated connection (NOTIFY), reconnecting on its own. */
  listen(onVersion: (event: VersionEvent) => void | Promise<void>, options?: ListenOptions): CatalogListener;
  /** Records a failed item (`attempts` counts the records); cleared when the item is written or removed. */
  recordFailure(catalog: string, failure: FailureInput): Promise<void>;
  failures(catalog: string): Promise<ItemFailure[]>;
  startRun(catalog: string): Promise<number>;
  finishRun(id: number, status: Exclude<RunStatus, 'running'>, counts: Record<string, number>): Promise<void>;
  getRun(id: number): Promise<ReindexRun | undefined>;
  /** The catalog's newest run still `running` (a killed coordinator's, to resume), if any. */
  runningRun(catalog: string): Promise<ReindexRun | undefined>;
  /** Records a running run's counts so far (what a resumed run starts from). */
  updateRunCounts(id: number, counts: Record<string, number>): Promise<void>;
}
