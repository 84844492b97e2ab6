/**
 * Ports: the interfaces core depends on. Packages implement them (embedder, catalog);
 * apps wire the implementations together in their main.ts.
 */

/** The logger every component receives. pino's Logger satisfies it. */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  fatal(obj: unknown, msg?: string): void;
}

/** A logger that drops everything (for library defaults; apps always pass pino). */
export const silentLogger: Logger = {
  child: () => silentLogger,
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
};

/** Where loaded weights came from. */
export type WeightsSource = 'keras-official' | 'file' | 'untrained';

/** Identity of the loaded weights: recorded in the catalog, shown in every answer. */
export interface WeightsInfo {
  source: WeightsSource;
  /**
   * The model identity the catalog records and compares: for fp32, the md5 of the source HDF5
   * file the model files were converted from; for int8, an md5 over that md5, `int8` and the
   * int8 file's sha256 (so an int8 catalog and an fp32 catalog are different models).
   */
  md5: string;
  /** True when the weights are random: results are not meaningful. */
  untrained: boolean;
  /** One human line, e.g. "ResNet50 ImageNet (keras-official, md5 4d473c1d…)". */
  description: string;
  /** Numeric precision of the model that computes the vectors. @defaultValue 'fp32' (when absent) */
  precision?: 'fp32' | 'int8';
}

/** An image: raw bytes, or a path to a file. */
export type ImageInput = Uint8Array | string;

/**
 * Who is waiting: `interactive` (a person, from chat, the page or the CLI) always runs ahead of
 * `batch` (catalog work), so an answer never queues behind a reindex.
 */
export type EmbedPriority = 'interactive' | 'batch';

export interface EmbedOptions {
  /** @defaultValue 'interactive' */
  priority?: EmbedPriority;
}

/** photo → 2048-d L2-normalised vector. */
export interface Embedder {
  readonly dimension: number;
  readonly runtime: 'onnx' | 'tfjs';
  readonly weights: WeightsInfo;
  /** Embeds each input; rejects with a LookalikeError if any input is bad. */
  embed(inputs: readonly ImageInput[], options?: EmbedOptions): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** Catalog metadata of one item (Kaggle styles.csv columns; extra columns kept as strings). */
export interface ItemMetadata {
  gender?: string;
  masterCategory?: string;
  subCategory?: string;
  articleType?: string;
  baseColour?: string;
  season?: string;
  year?: string;
  usage?: string;
  productDisplayName?: string;
  /** Feed catalogs (Google Merchant, Shopify): the product's name. */
  title?: string;
  /** The product page (http/https), for clickable answers. */
  link?: string;
  /** As shown: "49.90 EUR", or the feed's text when it is not unambiguous (never guessed). */
  price?: string;
  /** The parsed amount ("49.90"), when the price is unambiguous. */
  priceAmount?: string;
  /** ISO 4217 code ("EUR"), when the price is unambiguous. */
  priceCurrency?: string;
  /** A sale price, as shown (same form as `price`). */
  salePrice?: string;
  brand?: string;
  /** `in_stock`, `out_of_stock`, `preorder` or `backorder` (older feeds' "in stock" normalised). */
  availability?: string;
  color?: string;
  /** "A > B > C" path (Merchant `product_type`, Shopify `Type`). */
  productType?: string;
  /** The image URL the vector was made from (feed catalogs). */
  imageUrl?: string;
  [extra: string]: string | undefined;
}

/** Exact-match metadata filters, e.g. { articleType: 'Shirts' }. */
export type MetadataFilters = Readonly<Record<string, string>>;

/** One ranked answer. distance is squared L2; similarity = 1 − distance / 2. */
export interface SimilarItem {
  rank: number;
  id: string;
  path: string;
  distance: number;
  similarity: number;
  metadata: ItemMetadata;
}

export interface SearchOptions {
  k: number;
  filters?: MetadataFilters;
  /** Leave out items at distance ≈ 0 from the query. Default true. */
  excludeDuplicates?: boolean;
  /** Item ids (`SimilarItem.id`) to leave out, e.g. the results already shown in a "more like this" chain. */
  exclude?: readonly string[];
  /** Also answer with items whose `availability` is `out_of_stock`. @defaultValue false */
  includeOutOfStock?: boolean;
  /**
   * md5 of the weights the query vector was made with. When it is not the weights of the vectors
   * that answer (`CatalogPort.answeringWeights()`), search throws INDEX_MODEL_MISMATCH instead of
   * comparing vectors of two models. @defaultValue the catalog's loaded weights
   */
  weightsMd5?: string;
}

export type ReindexPhase = 'scanning' | 'hashing' | 'embedding' | 'removing' | 'done';

/** A progress event of a running reindex. */
export interface ReindexProgress {
  phase: ReindexPhase;
  done: number;
  total: number;
  /** Items per second in the current phase. */
  rate: number;
  /** Seconds left in the current phase, or null when unknown. */
  etaSeconds: number | null;
  startedAt: number;
  /** Items searchable right now: each committed batch is searchable at once. */
  searchable: number;
  /** Items the catalog will hold when this run ends, or null while it is still scanning. */
  expected: number | null;
}

export interface ReindexSummary {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  failed: number;
  /** Names (relative paths) of files that could not be read, up to a cap. */
  failedFiles: string[];
  durationMs: number;
  total: number;
}

/** Options of one reindex run. */
export interface ReindexRunOptions {
  /**
   * Go ahead even when the run would remove more than half of the catalog (a missing or empty
   * folder included). Without it such a run refuses with REINDEX_MASS_REMOVAL before changing
   * anything, with `details.wouldRemove` and `details.total`. @defaultValue false
   */
  allowRemovals?: boolean;
  /**
   * With `allowRemovals`: the most items the confirmed run may remove (the `wouldRemove` the
   * admin saw and confirmed). A run that would remove more than `maxRemovals` items, and more than
   * half of the catalog, is refused again with REINDEX_MASS_REMOVAL, the new `details.wouldRemove`
   * and `details.confirmed` = `maxRemovals`, before changing anything: files that vanished after
   * the confirmation need their own. A non-negative integer (BAD_REQUEST otherwise); no effect
   * without `allowRemovals`. @defaultValue no cap
   */
  maxRemovals?: number;
}

/**
 * A model change in progress: the catalog is re-embedded with the loaded weights (`target`)
 * into a shadow, while `answering` vectors keep answering; it swaps in one step when complete.
 */
export interface ModelMigration {
  /** The weights of the vectors that answer queries now. */
  answering: WeightsInfo;
  /** The loaded weights the catalog is re-embedded with. */
  target: WeightsInfo;
  /** Items already re-embedded with `target`. */
  done: number;
  /** Items the re-embedded catalog will hold (the old catalog's size until a run has scanned). */
  total: number;
  /** True while a reindex is re-embedding; false while it waits for the next reindex. */
  running: boolean;
}

/** What core needs from the catalog. Implemented by @lookalike/catalog. */
export interface CatalogPort {
  /** Number of items searchable now (it grows while a reindex commits batches). */
  size(): number;
  search(query: Float32Array, options: SearchOptions): SimilarItem[];
  /** Single-flight: rejects with REINDEX_IN_PROGRESS (details.progress) while one runs. */
  reindex(onProgress?: (p: ReindexProgress) => void, options?: ReindexRunOptions): Promise<ReindexSummary>;
  /** Progress of the running reindex, or null. */
  reindexProgress(): ReindexProgress | null;
  /** Distinct values of a metadata field, most common first (for filters and autocomplete). */
  facet(field: string): string[];
  /**
   * The weights of the vectors that answer now: the loaded ones, except during a model change
   * while the previous model's vectors still answer. Queries must be embedded with these.
   * @defaultValue (when not implemented) the loaded embedder's weights
   */
  answeringWeights?(): WeightsInfo;
  /** The model change in progress, or null. @defaultValue (when not implemented) null */
  migration?(): ModelMigration | null;
  /**
   * The stored vector of an item (`SimilarItem.id`), for "more like this": no download, no
   * embedding. Undefined when the item is not in the catalog.
   */
  vectorOf?(id: string): Float32Array | undefined | Promise<Float32Array | undefined>;
  close(): Promise<void>;
}
