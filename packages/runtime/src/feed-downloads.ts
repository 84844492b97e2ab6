/**
 * The downloads of a feed catalog, built from the configuration: one fetcher (the SSRF guard,
 * FEED_HOSTS or any public host, the image byte limit, the fetch timeouts) and one per-host queue
 * (LOOKALIKE_FEED_CONCURRENCY downloads per host, retries with backoff). The catalog never makes
 * its own; `lookalike index --feed`, `lookalike start` and /reindex get theirs here.
 */
import type { FeedFetcher, FeedOptions, HostQueue } from '@lookalike/catalog';
import { type Config, type Logger, LookalikeError } from '@lookalike/core';

export interface FeedDownloads {
  fetcher: FeedFetcher;
  hostQueue: HostQueue;
  close(): Promise<void>;
}

/** The feed `config` describes (LOOKALIKE_FEED …), or undefined when none is configured. */
export function feedOptionsFrom(config: Config): FeedOptions | undefined {
  const f = config.feed;
  if (f.source === undefined) return undefined;
  return {
    source: f.source,
    format: f.format,
    ...(Object.keys(f.map).length === 0 ? {} : { map: f.map as FeedOptions['map'] }),
    includeOutOfStock: f.includeOutOfStock,
  };
}

/** Opens the fetcher and host queue of a feed catalog. Close it after the catalog. */
export async function openFeedDownloads(config: Config, logger: Logger): Promise<FeedDownloads> {
  const { createFetcher, createHostQueue } = await import('@lookalike/fetch');
  const fetcher = createFetcher({
    allowedHosts: config.feed.hosts,
    limits: config.image,
    timeoutMs: config.fetch.timeoutMs,
    connectTimeoutMs: config.fetch.connectTimeoutMs,
    allowPrivate: config.fetch.allowPrivate,
    logger: logger.child({ component: 'feed-fetcher' }),
  });
  const { fetchConditional, openStream } = fetcher as Partial<FeedFetcher>;
  if (typeof fetchConditional !== 'function' || typeof openStream !== 'function') {
    await fetcher.close();
    throw new LookalikeError('INTERNAL', 'The fetcher cannot make conditional requests or open feed streams');
  }
  return {
    fetcher: {
      fetchConditional: (url, options) => fetchConditional.call(fetcher, url, options),
      openStream: (url, options) => openStream.call(fetcher, url, options),
    },
    hostQueue: createHostQueue({ perHost: config.feed.concurrency }),
    close: () => fetcher.close(),
  };
}
