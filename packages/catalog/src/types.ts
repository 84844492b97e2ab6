/**
 * The catalog's public shapes: options, the Catalog interface, its info and reindex summary.
 */
import type {
  CatalogPort,
  Embedder,
  ItemMetadata,
  Logger,
  ModelMigration,
  ReindexProgress,
  ReindexRunOptions,
  ReindexSummary,
  WeightsInfo,
} from '@lookalike/core';
import type { IndexStats } from '@lookalike/index';

export interface CatalogOptions {
  /** Where `catalog.sqlite` and `index.faiss` live. Created when missing. */
  dataDir: string;
  /**
   * The folder of images. @defaultValue the folder recorded by the last reindex.
   * Required for `reindex()` on a new catalog.
   */
  imagesDir?: string | undefined;
  /** A styles.csv-format labels file. @defaultValue the file recorded by the last reindex, if any */
  labelsPath?: string | undefined;
  embedder: Embedder;
  /**
   * Index type and HNSW search breadth. @defaultValue kind: the kind of the last saved index,
   * else 'flat'; efSearch: 96
   */
  index?: { kind?: 'flat' | 'hnsw'; efSearch?: number };
  /** @defaultValue silentLogger */
  logger?: Logger;
  /**
   * Files per commit (one SQLite transaction, searchable at once); embed calls in flight are
   * twice this. Use the embedder's batch size. @defaultValue 8
   */
  batchSize?: number;
  /**
   * When the database was built with other weights: false → `openCatalog` throws
   * INDEX_MODEL_MISMATCH; true → it opens a model change. The stored vectors are kept, and the
   * next `reindex()` re-embeds everything with the loaded weights into a shadow
   * (`catalog.next.sqlite`, continued after a crash) that replaces them in one step once
   * complete. @defaultValue false
   */
  allowModelMismatch?: boolean;
  /**
   * During a model change, keep answering from the stored vectors (the caller embeds queries with
   * the previous model: see `answeringWeights()`). false → the re-embedded items answer as they
   * are made, like a first index. @defaultValue false
   */
  answerFromStored?: boolean;
}

/** The reindex summary with catalog extras. */
export interface CatalogReindexSummary extends ReindexSummary {
  /** Images actually sent through the embedder in this run. */
  embedded: number;
  /** Items whose metadata (labels) changed without re-embedding. */
  relabelled: number;
  /** File stems found in more than one file (those items use their relative path as id). */
  collisions: string[];
  /** Catalog size after the run. */
  size: number;
}

export interface CatalogInfo {
  dataDir: string;
  imagesDir: string | undefined;
  labelsPath: string | undefined;
  size: number;
  generation: number;
  indexKind: 'flat' | 'hnsw';
  /** Weights the stored vectors were made with (undefined for a new catalog). */
  storedWeights: { source: string; md5: string } | undefined;
  /** True when the stored vectors were made with other weights than the loaded ones (a model change to finish). */
  modelMismatch: boolean;
  /** The live index: searchable items, stored vectors, HNSW tombstones, compactions. */
  indexStats: IndexStats;
}

/** A catalog item as returned by `items()`. */
export interface CatalogItem {
  id: string;
  path: string;
  metadata: ItemMetadata;
}

/** The catalog. Open with `openCatalog`. */
export interface Catalog extends CatalogPort {
  readonly weights: WeightsInfo;
  reindex(onProgress?: (p: ReindexProgress) => void, options?: ReindexRunOptions): Promise<CatalogReindexSummary>;
  answeringWeights(): WeightsInfo;
  migration(): ModelMigration | null;
  info(): CatalogInfo;
  /** Every searchable item. */
  items(): CatalogItem[];
  /** The stored vector of an item, or undefined. */
  vectorOf(id: string): Float32Array | undefined;
  /**
   * Resolves when the background work of the index is done: the save after a reindex and, for
   * HNSW, any compaction of removed items.
   */
  whenIdle(): Promise<void>;
}
