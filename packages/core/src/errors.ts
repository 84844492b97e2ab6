/**
 * One error type for the whole product. Every failure carries a stable string `code`.
 * `message` is the internal description (for logs); `userMessage` is the plain sentence an
 * adapter may show to a person. Internal codes map to a generic sentence, so no internal
 * detail or stack trace ever reaches a chat.
 */

/** Codes whose wording is meant for the person who sent the request. */
export const USER_ERROR_CODES = [
  'UNSUPPORTED_IMAGE',
  'IMAGE_TOO_LARGE',
  'IMAGE_DECODE_FAILED',
  'FETCH_FAILED',
  'FETCH_NOT_IMAGE',
  'HOST_NOT_ALLOWED',
  'FETCH_BLOCKED_ADDRESS',
  'FETCH_INSECURE',
  'RATE_LIMITED',
  'BUSY',
  'INDEX_EMPTY',
  'INDEX_BUILDING',
  'REINDEX_IN_PROGRESS',
  'REINDEX_MASS_REMOVAL',
  'REINDEX_NO_WORKERS',
  'FORBIDDEN',
  'HOST_MISDIRECTED',
  'ORIGIN_FORBIDDEN',
  'BAD_REQUEST',
  'INDEX_MODEL_MISMATCH',
  'NO_IMAGE',
  'ITEM_NOT_FOUND',
] as const;

/** Codes for operators: set-up, files, configuration, platform failures. */
export const INTERNAL_ERROR_CODES = [
  'CONFIG_INVALID',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'WEIGHTS_INVALID',
  'DOWNLOAD_FAILED',
  'CHECKSUM_MISMATCH',
  'FAISS_UNAVAILABLE',
  'INDEX_CORRUPT',
  'CATALOG_NOT_FOUND',
  'LABELS_INVALID',
  'RUNTIME_UNAVAILABLE',
  'PLATFORM_ERROR',
  'DATABASE_UNAVAILABLE',
  'REDIS_UNAVAILABLE',
  'WORKER_MODEL_MISMATCH',
  'FEED_INVALID',
  'INTERNAL',
] as const;

export type UserErrorCode = (typeof USER_ERROR_CODES)[number];
export type InternalErrorCode = (typeof INTERNAL_ERROR_CODES)[number];
export type ErrorCode = UserErrorCode | InternalErrorCode;

/** The sentence shown to a person for each user-facing code. */
export const USER_MESSAGES: Readonly<Record<UserErrorCode, string>> = Object.freeze({
  UNSUPPORTED_IMAGE:
    "That file isn't a photo I can read. Please send a JPEG, PNG, WebP, GIF, AVIF, HEIC or TIFF image.",
  // The configured limits are quoted by imageTooLarge() (media.ts); this is the fallback.
  IMAGE_TOO_LARGE: 'That image is too large. Please send a smaller photo.',
  IMAGE_DECODE_FAILED: "I couldn't open that image: it looks damaged or incomplete. Please try another photo.",
  FETCH_FAILED: "I couldn't download that image. Please try posting it again.",
  FETCH_NOT_IMAGE: "The link didn't give me an image (I got a web page instead).",
  HOST_NOT_ALLOWED: "I only download images from the chat platform's own file servers.",
  FETCH_BLOCKED_ADDRESS:
    "I won't download from that address: it points inside a private network. Please post the image itself.",
  FETCH_INSECURE: 'I only send credentials over https, and that link is plain http.',
  RATE_LIMITED: "You're going a bit fast. Please wait a minute and try again.",
  BUSY: "I'm busy with other photos right now. Please try again in a moment.",
  INDEX_EMPTY: 'The catalog is empty. An admin needs to run /reindex first.',
  INDEX_BUILDING:
    'The catalog is being indexed right now. The first items become searchable within seconds: please try again in a moment.',
  REINDEX_IN_PROGRESS: 'A reindex is already running.',
  // The count is quoted by the catalog's own sentence; this is the fallback.
  REINDEX_MASS_REMOVAL:
    'That reindex would remove more than half of the catalog, so I stopped before changing anything. Check the catalog folder, then confirm the removal.',
  REINDEX_NO_WORKERS:
    'No embedding worker is running, so the reindex is waiting. Its jobs stay queued: start `lookalike worker`, then run /reindex again to follow it.',
  FORBIDDEN: 'Only admins can do that.',
  HOST_MISDIRECTED: 'This server does not answer to that host name.',
  ORIGIN_FORBIDDEN: 'Requests from other web sites are refused.',
  BAD_REQUEST: 'That request is malformed.',
  INDEX_MODEL_MISMATCH: 'The catalog was built with a different model. An admin needs to run /reindex.',
  NO_IMAGE: "I didn't find an image to search with. Attach a photo and try again.",
  ITEM_NOT_FOUND: 'That product is no longer in the catalog. Post a photo to search again.',
});

const GENERIC_MESSAGE = 'Something went wrong on my side. Please try again later.';

export interface LookalikeErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Structured context for logs and callers (never shown verbatim to users). */
  details?: Record<string, unknown>;
  /** Overrides the standard user sentence (for example to add a hint). */
  userMessage?: string;
}

/** The product's one error type. `code` is stable; `message` is for operators. */
export class LookalikeError extends Error {
  override readonly name = 'LookalikeError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly #userMessage: string | undefined;

  constructor(code: ErrorCode, message: string, options: LookalikeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
    this.#userMessage = options.userMessage;
  }

  /** True when the code's wording is meant for the requester. */
  get isUserFacing(): boolean {
    return isUserErrorCode(this.code);
  }

  /** The sentence an adapter shows; generic for internal codes. */
  get userMessage(): string {
    if (this.#userMessage !== undefined) return this.#userMessage;
    return isUserErrorCode(this.code) ? USER_MESSAGES[this.code] : GENERIC_MESSAGE;
  }
}

export function isUserErrorCode(code: string): code is UserErrorCode {
  return (USER_ERROR_CODES as readonly string[]).includes(code);
}

export function isLookalikeError(err: unknown): err is LookalikeError {
  return err instanceof LookalikeError;
}

/** Wraps anything thrown into a LookalikeError (`INTERNAL` unless it already is one). */
export function asLookalikeError(err: unknown): LookalikeError {
  if (err instanceof LookalikeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LookalikeError('INTERNAL', message, { cause: err });
}

/** The sentence to show a person for any thrown value. Never a stack trace. */
export function userMessageFor(err: unknown): string {
  return asLookalikeError(err).userMessage;
}
