/**
 * FETCH_FAILED with what happened in `details.reason` (and `details.status`, `details.retryAfterMs`),
 * so callers can count failures by cause and retry only what may pass next time.
 */
import { type FetchFailureReason, LookalikeError } from '@lookalike/core';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

export function fetchFailed(
  reason: FetchFailureReason,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): LookalikeError {
  return new LookalikeError('FETCH_FAILED', message, {
    details: { ...details, reason },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Milliseconds a Retry-After header asks to wait: delta-seconds ("120") or an HTTP date.
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The FETCH_FAILED of a non-2xx answer: `details.status`, and `retryAfterMs` on 429/503. */
export function httpFailure(status: number, host: string, retryAfter: string | string[] | undefined): LookalikeError {
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(retryAfter) : undefined;
  return fetchFailed('http', `HTTP ${status} from ${host}`, {
    status,
    host,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/**
 * Any error of a download as a LookalikeError: coded ones as they are, the abort of the total
 * timeout as its reason, undici's timeouts as `timeout`, everything else (refused, reset, DNS,
 * TLS) as `network`.
 */
export function asFetchFailure(err: unknown, signal?: AbortSignal): LookalikeError {
  if (err instanceof LookalikeError) return err;
  if (signal?.aborted === true && signal.reason instanceof LookalikeError) return signal.reason;
  const code = (err as { code?: unknown } | undefined)?.code;
  const codeText = typeof code === 'string' ? code : undefined;
  const message = (err as Error | undefined)?.message ?? String(err);
  const reason = codeText !== undefined && TIMEOUT_CODES.has(codeText) ? 'timeout' : 'network';
  return fetchFailed(reason, `Download failed: ${message}`, codeText === undefined ? {} : { errorCode: codeText }, err);
}
