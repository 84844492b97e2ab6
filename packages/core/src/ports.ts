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
  /** md5 of the source HDF5 file the model files were converted from. */
  md5: string;
  /** True when the weights are random: results are not meaningful. */
  untrained: boolean;
  /** One human line, e.g. "ResNet50 ImageNet (keras-official, md5 4d473c1d…)". */
  description: string;
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

/** What core needs from the catalog. Implemented by @lookalike/catalog. */
export interface CatalogPort {
  /** Number of items searchable now (it grows while a reindex commits batches). */
  size(): number;
  search(query: Float32Array, options: SearchOptions): SimilarItem[];
  /** Single-flight: rejects with REINDEX_IN_PROGRESS (details.progress) while one runs. */
  reindex(onProgress?: (p: ReindexProgress) => void): Promise<ReindexSummary>;
  /** Progress of the running reindex, or null. */
  reindexProgress(): ReindexProgress | null;
  /** Distinct values of a metadata field, most common first (for filters and autocomplete). */
  facet(field: string): string[];
  close(): Promise<void>;
}
