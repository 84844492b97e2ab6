/**
 * What a failed feed download or image is recorded as: one string code per cause (FETCH_HTTP_404,
 * FETCH_TIMEOUT …), whether a stored item survives it (a transient failure keeps the item), and
 * the failures-by-code tally of a run.
 */
import { LookalikeError } from '@lookalike/core';
import type { FailureGroup } from './types.js';

/** Ids (or `line N`) listed per code in a summary. */
export const FIRST_PER_CODE = 5;

export interface DownloadFailure {
  code: string;
  message: string;
  /** Worth retrying later (timeouts, network errors, 408/429/5xx): a stored item is kept. */
  transient: boolean;
}

/**
 * The code of a failed image download, from the fetcher's error: FETCH_HTTP_<status> (from
 * `details.status`), FETCH_TIMEOUT / FETCH_NETWORK / FETCH_REDIRECTS (from `details.reason`),
 * else the error's own code (FETCH_NOT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_IMAGE,
 * HOST_NOT_ALLOWED, FETCH_BLOCKED_ADDRESS, FETCH_INSECURE, FETCH_FAILED).
 */
export function downloadFailureOf(err: unknown): DownloadFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof LookalikeError)) return { code: 'FETCH_NETWORK', message, transient: true };
  const { status, reason } = err.details as { status?: unknown; reason?: unknown };
  if (typeof status === 'number' && Number.isInteger(status)) {
    return { code: `FETCH_HTTP_${status}`, message, transient: status === 408 || status === 429 || status >= 500 };
  }
  if (reason === 'timeout') return { code: 'FETCH_TIMEOUT', message, transient: true };
  if (reason === 'network') return { code: 'FETCH_NETWORK', message, transient: true };
  if (reason === 'redirects') return { code: 'FETCH_REDIRECTS', message, transient: false };
  return { code: err.code, message, transient: false };
}

/** Failures of a run by code, with the first few ids of each. */
export class FailureTally {
  readonly #groups = new Map<string, FailureGroup>();
  #total = 0;
  readonly #first: string[] = [];
  readonly #cap: number;

  /** `cap`: names kept for `firstNames()` (the summary's failedFiles). */
  constructor(cap = 50) {
    this.#cap = cap;
  }

  add(code: string, name: string): void {
    this.#total++;
    if (this.#first.length < this.#cap) this.#first.push(name);
    const g = this.#groups.get(code);
    if (g === undefined) this.#groups.set(code, { count: 1, first: [name] });
    else {
      g.count++;
      if (g.first.length < FIRST_PER_CODE) g.first.push(name);
    }
  }

  get total(): number {
    return this.#total;
  }

  firstNames(): string[] {
    return [...this.#first];
  }

  /** Codes most frequent first (then by name). */
  byCode(): Record<string, FailureGroup> {
    const out: Record<string, FailureGroup> = {};
    const sorted = [...this.#groups.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
    for (const [code, g] of sorted) out[code] = { count: g.count, first: [...g.first] };
    return out;
  }
}
