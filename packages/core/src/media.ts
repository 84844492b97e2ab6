/**
 * Ports for the pieces of the answer path that need native code or an HTTP client: header-only
 * image inspection and the collage (implemented by @lookalike/render, on sharp) and safe image
 * downloads (implemented by @lookalike/fetch, on undici). Core itself depends on neither.
 */
import { LookalikeError } from './errors.js';
import type { Notice } from './notices.js';
import type { SimilarItem, WeightsInfo } from './ports.js';
import type { DecodableKind } from './sniff.js';

/** Limits every image (upload, download, catalog file) is held to. */
export interface ImageLimits {
  /** Largest encoded size in bytes. */
  maxBytes: number;
  /** Largest width × height of the first frame, read from the header before any decode. */
  maxPixels: number;
}

/** The product's defaults; the config module starts from these, and nothing else repeats them. */
export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
});

/** "20 MB" / "1.5 MB" / "900 kB": how the limits are quoted to people. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) {
    const mb = bytes / (1024 * 1024);
    return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  }
  return `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

/** The IMAGE_TOO_LARGE sentence, quoting the configured limits. */
export function imageTooLargeSentence(limits: ImageLimits): string {
  const mp = limits.maxPixels / 1_000_000;
  const pixels =
    mp >= 1
      ? `${Number.isInteger(mp) ? mp : mp.toFixed(1)} megapixel${mp === 1 ? '' : 's'}`
      : `${limits.maxPixels} pixels`;
  return `That image is too large. Please send one under ${formatBytes(limits.maxBytes)} and ${pixels}.`;
}

/** An IMAGE_TOO_LARGE error whose user sentence quotes `limits`. */
export function imageTooLarge(
  message: string,
  limits: ImageLimits,
  details: Record<string, unknown> = {},
): LookalikeError {
  return new LookalikeError('IMAGE_TOO_LARGE', message, {
    details: { ...details, maxBytes: limits.maxBytes, maxPixels: limits.maxPixels },
    userMessage: imageTooLargeSentence(limits),
  });
}

/** What a header-only look at an image found. */
export interface ImageInfo {
  kind: DecodableKind;
  width: number;
  height: number;
  /** Frames (GIF/WebP/TIFF pages); only the first is used. */
  pages: number;
}

/** Checks an image's size, sniffed format and header dimensions without decoding its pixels. */
export interface ImageInspector {
  readonly limits: Readonly<ImageLimits>;
  /**
   * @throws LookalikeError UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE, IMAGE_DECODE_FAILED
   */
  inspect(bytes: Uint8Array): Promise<ImageInfo>;
}

export interface FetchOptions {
  /** Extra request headers (e.g. Authorization). Never logged; dropped on a redirect to another host. */
  headers?: Record<string, string>;
  /** Appended to the FETCH_NOT_IMAGE sentence. */
  notImageHint?: string;
  /** Correlates logs. */
  requestId?: string;
}

export interface ImageFetcher {
  /**
   * Downloads an image.
   * @throws LookalikeError HOST_NOT_ALLOWED, FETCH_FAILED (with `details.reason`: FetchFailureReason,
   *   `details.status` for HTTP answers, `details.retryAfterMs` from Retry-After on 429/503),
   *   FETCH_NOT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_IMAGE
   */
  fetch(url: string, options?: FetchOptions): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * What a failed download's `details.reason` says (FETCH_FAILED): a non-2xx answer (`http`, with
 * `details.status`), a connect, header or body timeout, a network error (refused, reset, DNS),
 * too many redirects or one without Location, a feed stream over its byte limit, a URL that does
 * not parse, an empty body.
 */
export type FetchFailureReason = 'http' | 'timeout' | 'network' | 'redirects' | 'too-large' | 'invalid-url' | 'empty';

export interface ConditionalFetchOptions extends FetchOptions {
  /** The ETag of the copy held: sent as If-None-Match. */
  etag?: string;
  /** The Last-Modified of the copy held: sent as If-Modified-Since. */
  lastModified?: string;
}

/** A conditional download: unchanged (304), or the image with the validators to send next time. */
export type ConditionalFetchResult =
  | { status: 'not-modified' }
  | {
      status: 'ok';
      bytes: Buffer;
      /** The sniffed image type ("image/jpeg"), not the server's claim. */
      contentType: string;
      etag?: string;
      lastModified?: string;
      /** The URL after redirects (some CDNs ignore If-None-Match on redirects: keep it too). */
      finalUrl: string;
    };

export interface OpenStreamOptions {
  /** Largest body; more is FETCH_FAILED (reason too-large) from the body. @defaultValue 4 GiB */
  maxBytes?: number;
  /** Longest wait for the response head, and between two body chunks (idle, not total). @defaultValue the fetcher's timeoutMs */
  timeoutMs?: number;
  /** Extra request headers. Never logged; dropped on a redirect to another origin. */
  headers?: Record<string, string>;
  requestId?: string;
}

/** A document (a product feed) opened over HTTP(S), not sniffed. */
export interface FetchedStream {
  /** The body; iterate it once. Leaving the loop early closes the connection. */
  body: AsyncIterable<Uint8Array>;
  /** As the server declared it ("" when it did not). */
  contentType: string;
  finalUrl: string;
  etag?: string;
  lastModified?: string;
}

/** An ImageFetcher that also makes conditional requests and opens feed documents (@lookalike/fetch). */
export interface ConditionalFetcher extends ImageFetcher {
  /**
   * Downloads an image unless the copy held is current. Same checks as `fetch`.
   * @throws LookalikeError like `fetch`
   */
  fetchConditional(url: string, options?: ConditionalFetchOptions): Promise<ConditionalFetchResult>;
  /**
   * Opens a document for streaming, with the same host and address checks (no sniffing, no image
   * byte limit: `maxBytes` instead).
   * @throws LookalikeError HOST_NOT_ALLOWED, FETCH_BLOCKED_ADDRESS, FETCH_INSECURE, FETCH_FAILED
   */
  openStream(url: string, options?: OpenStreamOptions): Promise<FetchedStream>;
}

export interface CollageOptions {
  /** Named in the footer. */
  weights: WeightsInfo;
  /** Drawn as strips under the title; `level: 'warn'` ones (the untrained model) in a warning colour. */
  notices?: readonly Notice[];
  /** Loads a result's catalog image. */
  loadImage: (item: SimilarItem) => Promise<Uint8Array>;
  /** Title line. @defaultValue "Closest matches" */
  title?: string;
  /** Upper bound of the JPEG. @defaultValue 1,000,000 bytes */
  maxBytes?: number;
}

export interface CollageRenderer {
  /**
   * Draws the results (up to 6 shown; more are ignored) as a labelled grid.
   * Never throws for an unreadable catalog image: its tile says "image unavailable" (not cached).
   * @returns a JPEG of at most `options.maxBytes` bytes.
   */
  render(results: readonly SimilarItem[], options: CollageOptions): Promise<Buffer>;
  /** Forgets the cached tiles (e.g. after a reindex, when files may have changed in place). */
  clear(): void;
  /** Cached tiles and the tile cache's hit/miss counts since creation. */
  stats(): { tiles: number; hits: number; misses: number };
}
