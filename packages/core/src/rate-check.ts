/**
 * The service's rate check: the shared limiter (Redis, one bucket per user across replicas) when
 * there is one, this process's limiter while the shared one fails or is slow, so an outage of
 * the shared store never stops the answers (each replica then limits on its own).
 */
import { withDeadline } from './deadline.js';
import type { AsyncRateLimiter, RateDecision, RateLimiter } from './limits.js';
import type { Logger } from './ports.js';

export interface RateCheckOptions {
  /** This process's limiter: the only one without `shared`, the fallback with it. */
  local: RateLimiter;
  shared?: AsyncRateLimiter | undefined;
  logger: Logger;
  /** Named in the logs: 'chat' or 'page'. */
  name: string;
  /** A shared take that has not answered after this long counts as failed. @defaultValue 1000 */
  timeoutMs?: number;
}

/**
 * The limiter the service takes tokens from. A failing shared limiter is logged once per outage
 * (warn), and once when it answers again (info).
 */
export function createRateCheck(options: RateCheckOptions): AsyncRateLimiter {
  const { local, shared, logger, name } = options;
  const timeoutMs = options.timeoutMs ?? 1000;
  if (shared === undefined) return { take: async (key) => local.take(key) };
  let down = false;
  return {
    async take(key): Promise<RateDecision> {
      try {
        const decision = await withDeadline(shared.take(key), timeoutMs);
        if (down) {
          down = false;
          logger.info({ limiter: name }, 'shared rate limit answers again');
        }
        return decision;
      } catch (err) {
        if (!down) {
          down = true;
          logger.warn(
            { limiter: name, err: err instanceof Error ? err.message : String(err) },
            'shared rate limit unavailable: limiting in this process until it answers again',
          );
        }
        return local.take(key);
      }
    },
  };
}
