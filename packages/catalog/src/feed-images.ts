/**
 * The image behind a product's image URL, for one feed run: a conditional GET with the validators
 * of the last 200 (when its cache file is still there), so an unchanged image costs a 304 and no
 * bytes; new bytes are hashed and written to the image cache before anything else sees them. One
 * request per URL per run (products sharing an image share it). Local feeds may name image files
 * relative to the feed file.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { sniff } from '@lookalike/core';
import { sha256Hex } from './embed-window.js';
import { type DownloadFailure, downloadFailureOf } from './feed-failures.js';
import type { FeedTables, ImageValidators } from './feed-store.js';
import type { ImageCache } from './image-cache.js';
import type { FeedFetcher, HostQueue } from './types.js';

/** An image resolved for a run. */
export type ImageResult =
  | {
      ok: true;
      sha256: string;
      /** The cache file, relative to the data dir. */
      file: string;
      /** Answered 304: the bytes are the cached ones. */
      notModified: boolean;
      /**
       * The bytes when they were just downloaded or read (dropped once embedded: later readers use
       * the vector or the cache file).
       */
      bytes: Buffer | undefined;
      /** To record for the URL (undefined: nothing new). */
      validators: ImageValidators | undefined;
    }
  | ({ ok: false } & DownloadFailure);

export interface FeedImagesOptions {
  /** The validators of the store the run writes. */
  tables: FeedTables;
  /** During a model change: the catalog's validators (its cache files are shared). */
  baseline?: FeedTables | undefined;
  cache: ImageCache;
  fetcher: FeedFetcher | undefined;
  queue: HostQueue | undefined;
  /** The folder of a local feed file: image paths relative to it are read from disk. */
  localRoot: string | undefined;
  /** URLs remembered per run (their results, not their bytes once embedded). @defaultValue 8192 */
  memo?: number;
}

const HTTP_URL = /^https?:\/\//i;

export class FeedImages {
  /** Images downloaded with a body (200). */
  downloads = 0;
  /** Requests answered 304. */
  notModified = 0;
  readonly #o: FeedImagesOptions;
  readonly #memo = new Map<string, Promise<ImageResult>>();
  readonly #cap: number;

  constructor(options: FeedImagesOptions) {
    this.#o = options;
    this.#cap = Math.max(1, options.memo ?? 8192);
  }

  /** The image of `url` (never rejects: a failure is a result with its code). */
  get(url: string): Promise<ImageResult> {
    const known = this.#memo.get(url);
    if (known !== undefined) {
      // Most recently used last.
      this.#memo.delete(url);
      this.#memo.set(url, known);
      return known;
    }
    const p = this.#resolve(url).catch((err: unknown): ImageResult => ({ ok: false, ...downloadFailureOf(err) }));
    this.#memo.set(url, p);
    if (this.#memo.size > this.#cap) this.#memo.delete(this.#memo.keys().next().value as string);
    return p;
  }

  async #resolve(url: string): Promise<ImageResult> {
    if (!HTTP_URL.test(url)) return this.#local(url);
    const { fetcher, queue, cache } = this.#o;
    if (fetcher === undefined) {
      return { ok: false, code: 'FETCH_UNAVAILABLE', message: 'No fetcher was given for image URLs', transient: true };
    }
    const known = this.#o.tables.validator(url) ?? this.#o.baseline?.validator(url);
    const usable = known !== undefined && (await cache.has(known.file)) ? known : undefined;
    const request = () =>
      fetcher.fetchConditional(url, {
        ...(usable?.etag == null ? {} : { etag: usable.etag }),
        ...(usable?.lastModified == null ? {} : { lastModified: usable.lastModified }),
      });
    const res = await (queue === undefined ? request() : queue.run(url, request));
    if (res.status === 'not-modified') {
      if (usable === undefined) {
        return { ok: false, code: 'FETCH_HTTP_304', message: '304 without a conditional request', transient: true };
      }
      this.notModified++;
      const fromBaseline = this.#o.tables.validator(url) === undefined;
      return {
        ok: true,
        sha256: usable.sha256,
        file: usable.file,
        notModified: true,
        bytes: undefined,
        validators: fromBaseline ? usable : undefined,
      };
    }
    this.downloads++;
    const stored = await this.#store(res.bytes);
    if (!stored.ok) return stored;
    return {
      ...stored,
      validators: {
        url,
        etag: res.etag ?? null,
        lastModified: res.lastModified ?? null,
        finalUrl: res.finalUrl,
        sha256: stored.sha256,
        file: stored.file,
      },
    };
  }

  /** Hashes bytes and writes them to the cache. */
  async #store(bytes: Buffer): Promise<ImageResult> {
    const sha256 = await sha256Hex(bytes);
    const file = this.#o.cache.relPathOf(bytes, sha256);
    if (file === undefined) {
      const kind = sniff(bytes).kind;
      return kind === 'html' || kind === 'text'
        ? { ok: false, code: 'FETCH_NOT_IMAGE', message: `Got ${kind} instead of an image`, transient: false }
        : { ok: false, code: 'UNSUPPORTED_IMAGE', message: `Got ${kind} content`, transient: false };
    }
    await this.#o.cache.put(file, bytes);
    return { ok: true, sha256, file, notModified: false, bytes, validators: undefined };
  }

  /** An image file named relative to a local feed file (never outside its folder). */
  async #local(ref: string): Promise<ImageResult> {
    const root = this.#o.localRoot;
    const path = root === undefined ? undefined : resolve(root, ref);
    const rel = root === undefined || path === undefined ? '..' : relative(root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      return {
        ok: false,
        code: 'FEED_ROW_BAD_URL',
        message: `Not an http(s) URL or a file beside the feed: ${ref}`,
        transient: false,
      };
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path as string);
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      return {
        ok: false,
        code: errno === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE',
        message: `Cannot read ${rel}: ${(err as Error).message}`,
        transient: errno !== 'ENOENT',
      };
    }
    return this.#store(bytes);
  }
}
