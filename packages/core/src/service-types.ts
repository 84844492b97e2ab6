/**
 * The contract the chat adapters and the local page program against.
 * `createSimilarityService` (service.ts) implements it.
 */
import type { MetadataFilters, ReindexProgress, ReindexSummary, SimilarItem, WeightsInfo } from './ports.js';

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
  /** Plain-language notes to show with the answer (no close match, untrained model). */
  notices: string[];
  /** The labelled 3×2 collage, JPEG, at most 1 MB. */
  collage: Buffer;
  /** The individual catalog images, loaded on demand. */
  images(): Promise<ResultImage[]>;
}

export interface FetchImageOptions {
  /** Extra request headers, e.g. Slack's `Authorization: Bearer xoxb-…`. */
  headers?: Record<string, string>;
  /** Added to the FETCH_NOT_IMAGE sentence, e.g. a hint about the files:read scope. */
  notImageHint?: string;
}

export interface ServiceStatus {
  catalogSize: number;
  weights: WeightsInfo;
  runtime: string;
  reindexing: boolean;
  reindexProgress: ReindexProgress | null;
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
   * Finds the k most similar catalog items to a photo.
   * @throws LookalikeError UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE, IMAGE_DECODE_FAILED,
   *   RATE_LIMITED, BUSY, INDEX_EMPTY
   */
  findSimilar(image: Uint8Array, options: FindSimilarOptions): Promise<Answer>;
  /**
   * Downloads a platform attachment safely (allowlist, byte limit, timeouts, sniffed type).
   * @throws LookalikeError HOST_NOT_ALLOWED, FETCH_FAILED, FETCH_NOT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_IMAGE
   */
  fetchImage(url: string, options?: FetchImageOptions): Promise<Buffer>;
  /**
   * Runs the catalog's incremental reindex (single flight).
   * @throws LookalikeError REINDEX_IN_PROGRESS with `details.progress`
   */
  reindex(onProgress?: (p: ReindexProgress) => void): Promise<ReindexSummary>;
  status(): ServiceStatus;
  facets(): Facets;
  close(): Promise<void>;
}
