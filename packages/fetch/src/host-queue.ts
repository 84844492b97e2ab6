/**
 * Downloads bounded per host (one p-queue per host), retried with full-jitter exponential
 * backoff when the failure may pass: 5xx, 429, timeouts, network errors, never another 4xx.
 * A Retry-After (429/503) is honoured, capped by `maxDelayMs`, and holds back the whole host.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, LookalikeError, silentLogger } from '@lookalike/core';
import PQueue from 'p-queue';

export interface HostQueueOptions {
  /** Downloads in flight per host. @defaultValue 4 */
  perHost?: number;
  /** Retries after the first attempt. @defaultValue 3 */
  retries?: number;
  /** Backoff before retry n (0-based): random in [0, min(maxDelayMs, baseDelayMs × 2ⁿ)). @defaultValue 500 */
  baseDelayMs?: number;
  /** Longest wait before a retry, Retry-After included. @defaultValue 30000 */
  maxDelayMs?: number;
  /** In [0, 1). Tests make the jitter predictable with it. @defaultValue Math.random */
  random?: () => number;
  /** Waits that long. Tests record the waits with it. @defaultValue node:timers/promises setTimeout */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

export interface HostQueue {
  /**
   * Runs `fn` (a download of `url`) in `url`'s host queue, retrying as above.
   * @throws what the last attempt threw
   */
  run<T>(url: string, fn: () => Promise<T>): Promise<T>;
  /** Retries made so far (all hosts). */
  readonly retries: number;
}

/** True for a failure worth another attempt: FETCH_FAILED timeout/network, or HTTP 5xx / 429. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof LookalikeError) || err.code !== 'FETCH_FAILED') return false;
  const { reason, status } = err.details;
  if (reason === 'timeout' || reason === 'network') return true;
  return reason === 'http' && typeof status === 'number' && (status >= 500 || status === 429);
}

function hostKey(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '';
  }
}

export function createHostQueue(options: HostQueueOptions = {}): HostQueue {
  const perHost = options.perHost ?? 4;
  const retries = options.retries ?? 3;
  const base = options.baseDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const log = (options.logger ?? silentLogger).child({ component: 'host-queue' });
  const queues = new Map<string, PQueue>();
  /** Per host: no request starts before this time (a Retry-After). */
  const pausedUntil = new Map<string, number>();
  let retried = 0;

  const queueOf = (host: string): PQueue => {
    let q = queues.get(host);
    if (q === undefined) {
      const created = new PQueue({ concurrency: perHost });
      created.on('idle', () => {
        if (created.size === 0 && created.pending === 0 && queues.get(host) === created) queues.delete(host);
      });
      queues.set(host, created);
      q = created;
    }
    return q;
  };

  /** The wait a retryable failure's Retry-After asks for, capped by maxDelayMs. */
  const retryAfterOf = (err: unknown): number | undefined => {
    if (!isRetryable(err)) return undefined;
    const hinted = (err as LookalikeError).details.retryAfterMs;
    if (typeof hinted !== 'number' || !Number.isFinite(hinted)) return undefined;
    return Math.min(Math.max(0, hinted), maxDelay);
  };

  const pauseFor = (host: string, err: unknown): void => {
    const wait = retryAfterOf(err);
    if (wait !== undefined) pausedUntil.set(host, Math.max(pausedUntil.get(host) ?? 0, Date.now() + wait));
  };

  return {
    get retries() {
      return retried;
    },
    async run<T>(url: string, fn: () => Promise<T>): Promise<T> {
      const host = hostKey(url);
      for (let attempt = 0; ; attempt++) {
        try {
          return await queueOf(host).add(async () => {
            const wait = (pausedUntil.get(host) ?? 0) - Date.now();
            if (wait > 0) await sleep(wait);
            try {
              return await fn();
            } catch (err) {
              // The pause is set before this task gives up its slot: the host's next task already waits.
              pauseFor(host, err);
              throw err;
            }
          });
        } catch (err) {
          if (attempt >= retries || !isRetryable(err)) throw err;
          retried++;
          const hinted = retryAfterOf(err);
          if (hinted !== undefined) {
            // The whole host waits (this retry included): every task of its queue starts after the pause.
            log.debug({ host, attempt: attempt + 1, waitMs: hinted, retryAfter: true }, 'retrying download');
          } else {
            const wait = Math.floor(random() * Math.min(maxDelay, base * 2 ** attempt));
            log.debug(
              { host, attempt: attempt + 1, waitMs: wait, status: (err as LookalikeError).details.status },
              'retrying download',
            );
            await sleep(wait);
          }
        }
      }
    },
  };
}
