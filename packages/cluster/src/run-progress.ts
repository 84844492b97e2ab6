/**
 * A reindex's progress shared through Redis: the coordinator publishes it (every progress event
 * and every poll, with a short ttl, so a killed coordinator's progress fades), and every process
 * follows it (a subscription, seeded by a read), so `progress()` answers anywhere.
 */
import type { Logger, ReindexProgress } from '@lookalike/core';
import {
  type ProgressSubscription,
  publishProgress,
  type Redis,
  readProgress,
  subscribeProgress,
} from '@lookalike/redis';

export interface SharedProgress {
  /** The latest progress published by any process within the ttl, or null. */
  current(): ReindexProgress | null;
  /** Publishes (null: no run now). */
  publish(p: ReindexProgress | null): Promise<void>;
  /** Reads the latest published value from Redis (null: none). */
  read(): Promise<ReindexProgress | null>;
  close(): Promise<void>;
}

/** Pause before subscribing again after a failure. */
const RETRY_MS = 5000;

/** The progress name of a catalog's reindex (`lookalike:progress:reindex:<catalog>`). */
export const progressName = (catalog: string): string => `reindex:${catalog}`;

function isProgress(v: unknown): v is ReindexProgress {
  return v !== null && typeof v === 'object' && typeof (v as { phase?: unknown }).phase === 'string';
}

export function followProgress(redis: Redis, catalog: string, ttlSeconds: number, logger: Logger): SharedProgress {
  const name = progressName(catalog);
  let latest: { value: ReindexProgress | null; at: number } | undefined;
  let closed = false;
  const take = (v: unknown): void => {
    latest = { value: isProgress(v) ? v : null, at: Date.now() };
  };
  let retry: ReturnType<typeof setTimeout> | undefined;
  let subscription: ProgressSubscription | undefined;
  // Subscribed first, then seeded by a read: an update between the two is not lost. A failed
  // subscribe (Redis down at start) is tried again until it works or this is closed.
  const follow = async (): Promise<void> => {
    try {
      const s = await subscribeProgress(redis, name, take, { logger });
      if (closed) return void (await s.close());
      subscription = s;
      const seen = latest;
      const v = await readProgress(redis, name).catch(() => undefined);
      if (latest === seen) take(v ?? null);
    } catch (err) {
      if (closed) return;
      logger.warn({ err }, 'cannot follow the reindex progress yet; trying again');
      retry = setTimeout(() => void follow(), RETRY_MS);
      retry.unref();
    }
  };
  const started = follow();
  return {
    current() {
      if (latest === undefined || Date.now() - latest.at > ttlSeconds * 1000) return null;
      return latest.value;
    },
    async publish(p) {
      await publishProgress(redis, name, p, { ttlSeconds });
      take(p);
    },
    async read() {
      const v = await readProgress(redis, name);
      return isProgress(v) ? v : null;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await started;
      await subscription?.close();
    },
  };
}
