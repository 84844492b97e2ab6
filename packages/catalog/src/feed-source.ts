/**
 * Opening a feed document as a byte stream: a local file, or an http(s) URL through the caller's
 * fetcher (the same SSRF guard and limits as every download).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { LookalikeError } from '@lookalike/core';
import type { FeedFetcher } from './types.js';

export interface OpenedFeed {
  body: AsyncIterable<Uint8Array>;
  /** The file name (for format detection and messages). */
  name: string;
  /** The folder of a local feed file (image paths may be relative to it). */
  localRoot: string | undefined;
  /** The URL of a feed read over HTTP(S), after redirects (relative image URLs resolve against it). */
  baseUrl: string | undefined;
}

/** True for an http(s) URL (else `source` is a file path). */
export function isFeedUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** A feed source as recorded: URLs as given, paths made absolute. */
export function normaliseFeedSource(source: string): string {
  return isFeedUrl(source) ? source : resolve(source);
}

/** Safe to log and show: a URL without its query string or credentials. */
export function feedSourceForLog(source: string): string {
  if (!isFeedUrl(source)) return source;
  try {
    const u = new URL(source);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Opens the feed.
 * @throws LookalikeError FEED_INVALID (the file or URL cannot be read: `details.source`, and
 *   `details.code`, `details.status` of the download error), CONFIG_INVALID (a URL without a fetcher)
 */
export async function openFeed(source: string, fetcher: FeedFetcher | undefined): Promise<OpenedFeed> {
  const shown = feedSourceForLog(source);
  if (isFeedUrl(source)) {
    if (fetcher === undefined) {
      throw new LookalikeError('CONFIG_INVALID', `The feed ${shown} is a URL, but no fetcher was given to read it`);
    }
    try {
      const s = await fetcher.openStream(source);
      const name = basename(new URL(s.finalUrl).pathname) || 'feed';
      return { body: s.body, name, localRoot: undefined, baseUrl: s.finalUrl };
    } catch (err) {
      const e = err as { code?: unknown; details?: { status?: unknown } };
      throw new LookalikeError('FEED_INVALID', `Cannot read the feed ${shown}: ${(err as Error).message}`, {
        cause: err,
        details: { source: shown, code: e.code, status: e.details?.status },
      });
    }
  }
  try {
    const s = await stat(source);
    if (!s.isFile()) throw new Error('not a file');
  } catch (err) {
    throw new LookalikeError('FEED_INVALID', `Cannot read the feed file ${source}: ${(err as Error).message}`, {
      cause: err,
      details: { source },
    });
  }
  return { body: createReadStream(source), name: basename(source), localRoot: dirname(source), baseUrl: undefined };
}
