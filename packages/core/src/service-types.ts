/**
 * The contract the chat adapters and the local page program against.
 * `createSimilarityService` (service.ts) implements it.
 */
import type { FetchOptions } from './media.js';
import type { Notice } from './notices.js';
import type {
  MetadataFilters,
  ReindexProgress,
  ReindexRunOptions,
  ReindexSummary,
  SimilarItem,
  WeightsInfo,
} from './ports.js';

/** Where a request came from (metrics and logs). */
export type Surface = 'page' | 'discord' | 'slack' | 'cli';

/**
 * The photo to search with: its bytes, or a URL the service downloads through its safe fetcher
 * (with headers such as Slack's `Authorization: Bearer …`, never logged).
 */
export type ImageRef = Uint8Array | ({ url: string } & Pick<FetchOptions, 'headers' | 'notImageHint'>);

/** Who is asking: used for rate limiting and logs. */
export interface Requester {
  /** Stable per platform user, e.g. "discord:1234" or "slack:T1:U1" or "web:127.0.0.1". */
  userId: string;
}

export interface FindSimilarOptions extends Requester {
  /** Number of results, 1–10. @defaultValue 6 */
  k?: number;
  filters?: MetadataFilters;
  /** Leave out the exact duplicate of the query. @defaultValue true */
  excludeDuplicates?: boolean;
  /** Correlates logs; generated when absent. */
  requestId?: string;
  /** @defaultValue 'page' */
  surface?: Surface;
}

/**
 * "More like this": the k items nearest to a catalog item, searched with its stored vector (no
 * download, no embedding).
 */
export interface MoreLikeThisOptions extends Requester {
  /** Number of results, 1–10. @defaultValue the configured default (6) */
  k?: number;
  /** The filters of the answer the press came from (kept along the chain). */
  filters?: MetadataFilters;
  /**
   * Item ids to leave out besides the item itself: those already shown in this chain. At most
   * MAX_EXCLUDE (BAD_REQUEST beyond). @defaultValue []
   */
  exclude?: readonly string[];
  /** Correlates logs; generated when absent. */
  requestId?: string;
  /** @defaultValue 'page' */
  surface?: Surface;
}

/** One image an adapter may attach beside the collage. */
export interface ResultImage {
  rank: number;
  /** A safe file name, e.g. "2-shirts-10017.jpg". */
  filename: string;
  bytes: Buffer;
  contentType: string;
}

/** The answer to one photo. */
export interface Answer {
  requestId: string;
  results: SimilarItem[];
  weights: WeightsInfo;
  /** True when even the best result is farther than the configured threshold. */
  noCloseMatch: boolean;
  /** Typed notes to show with the answer (untrained model, no close match, still indexing…). */
  notices: Notice[];
  /** The labelled 3×2 collage, JPEG, at most 1 MB. */
  collage: Buffer;
  /** The individual catalog images, loaded on demand. */
  images(): Promise<ResultImage[]>;
  /** The filters the search was made with (absent: none), for buttons that search again. */
  filters?: MetadataFilters;
  /**
   * Item ids this answer left out ("more like this": the item and those shown before in its
   * chain). Together with `results` they are the chain a further press excludes. Absent: none.
   */
  excluded?: readonly string[];
  /** "More like this": the catalog item the answer is about. */
  sourceItemId?: string;
}

export type FetchImageOptions = Pick<FetchOptions, 'headers' | 'notImageHint'>;

export interface ServiceStatus {
  catalogSize: number;
  /** The model whose vectors answer now (the previous one while a model change re-embeds). */
  weights: WeightsInfo;
  runtime: string;
  reindexing: boolean;
  reindexProgress: ReindexProgress | null;
  /** Queries waiting for a slot, and running. */
  queueDepth: number;
  inFlight: number;
  uptimeSeconds: number;
}

export interface Facets {
  genders: string[];
  articleTypes: string[];
}

/** One per process; shared by every adapter. */
export interface SimilarityService {
  /**
   * Finds the k most similar catalog items to a photo, deciding everything in one place, in this
   * order: closed → catalog state → rate limit → download → sniff → inspect → embed → search →
   * notices → collage.
   * @throws LookalikeError BUSY, INDEX_EMPTY, INDEX_BUILDING, INDEX_MODEL_MISMATCH, RATE_LIMITED,
   *   HOST_NOT_ALLOWED, FETCH_FAILED, FETCH_NOT_IMAGE, UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE, IMAGE_DECODE_FAILED
   */
  findSimilar(image: ImageRef, options: FindSimilarOptions): Promise<Answer>;
  /**
   * Downloads a platform attachment safely (allowlist, byte limit, timeouts, sniffed type).
   * Prefer passing `{ url, headers }` to `findSimilar`, which downloads after its own checks.
   * @throws LookalikeError HOST_NOT_ALLOWED, FETCH_FAILED, FETCH_NOT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_IMAGE
   */
  fetchImage(url: string, options?: FetchImageOptions): Promise<Buffer>;
  /**
   * "More like this": the k items nearest to the catalog item `itemId` (`SimilarItem.id`), found
   * with its stored vector (no download, no embedding; the rate limit applies), leaving out the
   * item itself and `options.exclude`, with `options.filters`; the same Answer as findSimilar
   * (notices, collage) with `filters`, `excluded` and `sourceItemId` set.
   * @throws LookalikeError ITEM_NOT_FOUND (the item is no longer in the catalog), BAD_REQUEST (an
   *   empty or overlong item id, a malformed exclude list or filters), BUSY, INDEX_EMPTY,
   *   INDEX_BUILDING, INDEX_MODEL_MISMATCH, RATE_LIMITED
   */
  moreLikeThis(itemId: string, options: MoreLikeThisOptions): Promise<Answer>;
  /**
   * Runs the catalog's incremental reindex (single flight).
   * @throws LookalikeError REINDEX_IN_PROGRESS with `details.progress`; REINDEX_MASS_REMOVAL
   *   (nothing changed) when it would remove more than half the catalog without `allowRemovals`
   *   (or, with it, more than `maxRemovals` items); BAD_REQUEST for a `maxRemovals` that is not a
   *   non-negative integer
   */
  reindex(onProgress?: (p: ReindexProgress) => void, options?: ReindexRunOptions): Promise<ReindexSummary>;
  status(): ServiceStatus;
  facets(): Facets;
  close(): Promise<void>;
}

/** Stages of one answer that are timed. */
export type AnswerStage = 'download' | 'inspect' | 'embed' | 'search' | 'collage';

/**
 * Receives what the service measures (the metrics module implements it with prom-client).
 * Every method must be cheap and must not throw.
 */
export interface ServiceObserver {
  /** One finished request: its surface, outcome (`ok` or the error code) and total time. */
  request(surface: Surface, outcome: string, seconds: number): void;
  /** One timed stage, each time it runs (a refused upload still reports its `inspect`). */
  stage(stage: AnswerStage, seconds: number): void;
}
