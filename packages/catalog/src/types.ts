/**
 * The catalog's public shapes: options, the Catalog interface, its info and reindex summary.
 */
import type {
  CatalogPort,
  ConditionalFetcher,
  Embedder,
  ItemMetadata,
  Logger,
  ModelMigration,
  ReindexProgress,
  ReindexRunOptions,
  ReindexSummary,
  WeightsInfo,
} from '@lookalike/core';
import type { FeedField, FeedFormat } from '@lookalike/feeds';
import type { IndexKind, IndexStats } from '@lookalike/index';

/** A product feed as the catalog's source (instead of a folder of images). */
export interface FeedOptions {
  /** A file path, or an http(s) URL (read through `CatalogOptions.fetcher`). */
  source: string;
  /** @defaultValue detected from the feed's first bytes and name */
  format?: FeedFormat | undefined;
  /** Extra column names per field, e.g. `{ imageUrl: 'Picture URL' }` (`--map field=column`). */
  map?: Partial<Record<FeedField, string>> | undefined;
  /**
   * ISO 4217 code for prices written without one (a Shopify export's bare `Variant Price`).
   * @defaultValue none: such prices stay text
   */
  currency?: string | undefined;
  /**
   * Answer with out-of-stock products too (searches may still ask either way with
   * `SearchOptions.includeOutOfStock`). Out-of-stock products are indexed either way, so they come
   * back without a download when they are in stock again. @defaultValue false
   */
  includeOutOfStock?: boolean | undefined;
}

/**
 * The downloads of a feed catalog, made by the caller with @lookalike/fetch (`createFetcher`:
 * the SSRF guard, host allowlist and byte limit of every download); the catalog never makes one.
 * Image failures are LookalikeErrors whose `details.status` (HTTP status) and `details.reason`
 * ('http' | 'timeout' | 'network' | 'redirects' …) name what happened.
 */
export type FeedFetcher = Pick<ConditionalFetcher, 'fetchConditional' | 'openStream'>;

/** Per-host limits and retries around each download (`createHostQueue` of @lookalike/fetch). */
export interface HostQueue {
  run<T>(url: string, fn: () => Promise<T>): Promise<T>;
}

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
   * Index type ('flat', 'hnsw', or 'flat-sq8': 8-bit codes whose top candidates are re-ranked with
   * the fp32 vectors of this catalog's database) and HNSW search breadth. Another kind than the
   * saved index's rebuilds it from the stored vectors. @defaultValue kind: the kind of the last
   * saved index, else 'flat'; efSearch: 96
   */
  index?: { kind?: IndexKind; efSearch?: number };
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
  /**
   * Make this a feed catalog: the products of a feed, their images downloaded (conditionally,
   * content-addressed in `<dataDir>/image-cache/`). @defaultValue the feed recorded by the last
   * reindex, unless `imagesDir` is given (then it is a folder catalog)
   */
  feed?: FeedOptions | undefined;
  /** The downloads of a feed catalog (image requests; the feed itself when it is a URL). */
  fetcher?: FeedFetcher | undefined;
  /** Per-host concurrency and retries of the downloads. @defaultValue none: downloads run as the pipeline starts them */
  hostQueue?: HostQueue | undefined;
}

/** Failures of one code in a run: how many, and the first few ids (or `line N` for rows without one). */
export interface FailureGroup {
  count: number;
  first: string[];
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
  /**
   * Every failure of the run by code: feed rows skipped (FEED_ROW_*), images that failed to
   * download (FETCH_HTTP_404, FETCH_TIMEOUT, FETCH_NETWORK, FETCH_NOT_IMAGE, IMAGE_TOO_LARGE,
   * HOST_NOT_ALLOWED, FETCH_BLOCKED_ADDRESS …) or to decode (IMAGE_DECODE_FAILED …).
   */
  failuresByCode: Record<string, FailureGroup>;
  /** Images downloaded with a body (200) in this run (feed catalogs; 0 for folders). */
  downloads: number;
  /** Image requests answered 304 Not Modified (feed catalogs; 0 for folders). */
  notModified: number;
}

export interface CatalogInfo {
  dataDir: string;
  /** A folder of images, or a product feed. */
  kind: 'folder' | 'feed';
  imagesDir: string | undefined;
  /** The feed of a feed catalog (its source, format and whether out-of-stock products answer). */
  feed: { source: string; format: FeedFormat | undefined; includeOutOfStock: boolean } | undefined;
  labelsPath: string | undefined;
  size: number;
  generation: number;
  indexKind: IndexKind;
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
