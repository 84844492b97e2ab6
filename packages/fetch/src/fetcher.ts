/**
 * Safe downloads: host allowlist (or any public host) and address checked on every redirect hop,
 * credentials only over https, byte limit enforced while streaming, connect and total timeouts,
 * sniffed content. The same rules hold for images (`fetch`, `fetchConditional`) and for feed
 * documents (`openStream`).
 */

import { isIP, type LookupFunction } from 'node:net';

import {
  type ConditionalFetcher,
  type ConditionalFetchResult,
  contentTypeOf,
  type FetchedStream,
  type FetchOptions,
  type ImageKind,
  type ImageLimits,
  imageTooLarge,
  type Logger,
  LookalikeError,
  type OpenStreamOptions,
  silentLogger,
  sniff,
  USER_MESSAGES,
} from '@lookalike/core';
import { Agent, type Dispatcher, request } from 'undici';
import { addressRefusal, guardedLookup, parseTrusted } from './address.js';
import { asFetchFailure, fetchFailed, httpFailure } from './failures.js';
import { carriesCredentials, headerOf, hostOf, normaliseHost, parseUrl, safeForLog } from './urls.js';

export interface FetcherOptions {
  /**
   * Hosts that may be fetched, matched exactly (case-insensitive, port ignored), or
   * `'any-public'`: any host (feed images with FEED_HOSTS unset), still never a private address
   * unless `allowPrivate` or `trustedAddresses` say so.
   */
  allowedHosts: readonly string[] | 'any-public';
  /** Largest accepted image (`maxBytes`), quoted with `maxPixels` in the user sentence. */
  limits: ImageLimits;
  /** Whole image download, all redirect hops included; head and idle timeout of `openStream`. @defaultValue 15000 */
  timeoutMs?: number;
  /** TCP/TLS connect timeout per hop. @defaultValue 5000 */
  connectTimeoutMs?: number;
  /** Redirects followed at most. @defaultValue 3 */
  maxRedirects?: number;
  /**
   * Opt-in for self-hosted sources and tests (`LOOKALIKE_FETCH_ALLOW_PRIVATE`): connect to
   * loopback, private, link-local … addresses, and send credentials over plain http.
   * @defaultValue false
   */
  allowPrivate?: boolean;
  /**
   * Addresses or CIDR ranges (`10.1.2.0/24`) that may be connected to although they are not
   * public, for one self-hosted source without opening every private address. Credentials still
   * need https. @defaultValue []
   */
  trustedAddresses?: readonly string[];
  /** Name resolver (tests fake DNS with it). Its answers are checked like any. @defaultValue dns.lookup */
  lookup?: LookupFunction;
  logger?: Logger;
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_STREAM_MAX_BYTES = 4 * 1024 * 1024 * 1024;

/** Drops a response body; its abort error must not surface as an uncaught exception. */
function discard(body: NodeJS.ReadableStream & { destroy(err?: Error): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

interface HopRequest {
  headers: Record<string, string>;
  accept: string;
  signal?: AbortSignal;
  headersTimeout?: number;
  bodyTimeout?: number;
  /** Sent on every hop; not credentials, so they follow redirects to other origins. */
  validators?: Record<string, string>;
  requestId?: string | undefined;
}

interface Opened {
  res: Dispatcher.ResponseData;
  url: URL;
}

/** Creates a fetcher with its own connection pool. */
export function createFetcher(options: FetcherOptions): ConditionalFetcher {
  const anyHost = options.allowedHosts === 'any-public';
  const allowed = new Set(anyHost ? [] : (options.allowedHosts as readonly string[]).map(normaliseHost));
  const allowPrivate = options.allowPrivate ?? false;
  const trusted = parseTrusted(options.trustedAddresses ?? []);
  // Names are resolved here, so the address checked is the one connected to (IP literals skip lookup).
  const lookup = allowPrivate ? options.lookup : guardedLookup(trusted, options.lookup);
  const limits = options.limits;
  const maxBytes = limits.maxBytes;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const maxRedirects = options.maxRedirects ?? 3;
  const log = (options.logger ?? silentLogger).child({ component: 'fetcher' });
  const agent = new Agent({
    connect: { timeout: connectTimeoutMs, ...(lookup === undefined ? {} : { lookup }) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 4_000,
  });

  const checkHost = (url: URL): void => {
    const host = hostOf(url);
    if (!anyHost && !allowed.has(host)) {
      throw new LookalikeError('HOST_NOT_ALLOWED', `Host ${host} is not on the attachment allowlist`, {
        details: { host },
      });
    }
    if (allowPrivate) return;
    if (isIP(host) !== 0) {
      const refusal = addressRefusal(host, host, trusted);
      if (refusal !== undefined) throw refusal;
    }
  };

  /** Every hop: allowlist, address of an IP literal (names are checked when resolved), https for credentials. */
  const checkHop = (url: URL, headers: Record<string, string>): void => {
    checkHost(url);
    if (!allowPrivate && url.protocol !== 'https:' && carriesCredentials(headers)) {
      throw new LookalikeError('FETCH_INSECURE', `Credentials are only sent over https, not to ${safeForLog(url)}`, {
        details: { host: hostOf(url), protocol: url.protocol },
      });
    }
  };

  /** Follows redirects to a 2xx (or 304) answer. @throws FETCH_FAILED (http, redirects) and the hop checks */
  async function open(first: URL, req: HopRequest): Promise<Opened> {
    let url = first;
    let headers = { ...req.headers };
    for (let hop = 0; ; hop++) {
      checkHop(url, headers);
      const res = await request(url, {
        method: 'GET',
        headers: { accept: req.accept, 'user-agent': 'lookalike/0.1', ...(req.validators ?? {}), ...headers },
        dispatcher: agent,
        ...(req.signal === undefined ? {} : { signal: req.signal }),
        ...(req.headersTimeout === undefined ? {} : { headersTimeout: req.headersTimeout }),
        ...(req.bodyTimeout === undefined ? {} : { bodyTimeout: req.bodyTimeout }),
      });
      if (REDIRECT_CODES.has(res.statusCode)) {
        discard(res.body);
        const target = headerOf(res.headers, 'location');
        if (target === undefined) {
          throw fetchFailed('redirects', `Redirect ${res.statusCode} without Location`, { status: res.statusCode });
        }
        if (hop >= maxRedirects) throw fetchFailed('redirects', `More than ${maxRedirects} redirects`);
        const next = parseUrl(new URL(target, url).toString());
        checkHost(next);
        // Like browsers: credentials never follow a redirect to another origin.
        if (next.origin !== url.origin) headers = {};
        log.debug({ requestId: req.requestId, from: safeForLog(url), to: safeForLog(next) }, 'redirect');
        url = next;
        continue;
      }
      if (res.statusCode === 304 && req.validators !== undefined) return { res, url };
      if (res.statusCode < 200 || res.statusCode >= 300) {
        discard(res.body);
        throw httpFailure(res.statusCode, hostOf(url), res.headers['retry-after']);
      }
      return { res, url };
    }
  }

  const tooLarge = (bytes: number) => imageTooLarge(`Download exceeds ${maxBytes} bytes`, limits, { bytes });

  async function readImageBody(res: Dispatcher.ResponseData): Promise<Buffer> {
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      discard(res.body);
      throw tooLarge(declared);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) {
        discard(res.body);
        throw tooLarge(total);
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks, total);
  }

  /** The sniffed kind of a downloaded body. @throws FETCH_NOT_IMAGE, FETCH_FAILED (empty), UNSUPPORTED_IMAGE */
  function imageKindOf(body: Buffer, opts: FetchOptions): ImageKind {
    const kind = sniff(body);
    if (kind.image) return kind.kind;
    if (kind.kind === 'html' || kind.kind === 'text') {
      const hint = opts.notImageHint;
      throw new LookalikeError('FETCH_NOT_IMAGE', `Got ${kind.kind} instead of an image`, {
        details: { kind: kind.kind },
        ...(hint === undefined ? {} : { userMessage: `${USER_MESSAGES.FETCH_NOT_IMAGE} ${hint}` }),
      });
    }
    if (kind.kind === 'empty') throw fetchFailed('empty', 'Empty response body');
    throw new LookalikeError('UNSUPPORTED_IMAGE', `Downloaded ${kind.kind} content`, {
      details: { kind: kind.kind },
    });
  }

  /** One image download under the total timeout; `validators` make it conditional. */
  async function image(
    raw: string,
    opts: FetchOptions,
    validators: Record<string, string> | undefined,
  ): Promise<ConditionalFetchResult> {
    const started = Date.now();
    const url = parseUrl(raw);
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          fetchFailed('timeout', `Download took longer than ${timeoutMs} ms`, { host: hostOf(url), timeoutMs }),
        ),
      timeoutMs,
    );
    try {
      const { res, url: finalUrl } = await open(url, {
        headers: opts.headers ?? {},
        accept: 'image/*',
        signal: controller.signal,
        ...(validators === undefined ? {} : { validators }),
        requestId: opts.requestId,
      });
      if (res.statusCode === 304) {
        discard(res.body);
        log.debug({ requestId: opts.requestId, url: safeForLog(url), ms: Date.now() - started }, 'not modified');
        return { status: 'not-modified' };
      }
      const body = await readImageBody(res);
      const kind = imageKindOf(body, opts);
      log.debug(
        { requestId: opts.requestId, url: safeForLog(url), bytes: body.length, kind, ms: Date.now() - started },
        'fetched',
      );
      const etag = headerOf(res.headers, 'etag');
      const lastModified = headerOf(res.headers, 'last-modified');
      return {
        status: 'ok',
        bytes: body,
        contentType: contentTypeOf(kind),
        finalUrl: finalUrl.toString(),
        ...(etag === undefined ? {} : { etag }),
        ...(lastModified === undefined ? {} : { lastModified }),
      };
    } catch (err) {
      const e = asFetchFailure(err, controller.signal);
      log.info(
        {
          requestId: opts.requestId,
          url: safeForLog(url),
          code: e.code,
          reason: e.details.reason,
          ms: Date.now() - started,
        },
        'fetch failed',
      );
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async function openStream(raw: string, opts: OpenStreamOptions = {}): Promise<FetchedStream> {
    const url = parseUrl(raw);
    const limit = opts.maxBytes ?? DEFAULT_STREAM_MAX_BYTES;
    const idleMs = opts.timeoutMs ?? timeoutMs;
    let opened: Opened;
    try {
      opened = await open(url, {
        headers: opts.headers ?? {},
        accept: '*/*',
        headersTimeout: idleMs,
        bodyTimeout: idleMs,
        requestId: opts.requestId,
      });
    } catch (err) {
      const e = asFetchFailure(err);
      log.info(
        { requestId: opts.requestId, url: safeForLog(url), code: e.code, reason: e.details.reason },
        'open failed',
      );
      throw e;
    }
    const { res, url: finalUrl } = opened;
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      discard(res.body);
      throw fetchFailed('too-large', `The document is ${declared} bytes, over the limit of ${limit}`, {
        bytes: declared,
        maxBytes: limit,
        host: hostOf(finalUrl),
      });
    }
    async function* body(): AsyncGenerator<Uint8Array> {
      let total = 0;
      let finished = false;
      try {
        for await (const chunk of res.body) {
          const buf = chunk as Buffer;
          total += buf.length;
          if (total > limit) {
            throw fetchFailed('too-large', `The document exceeds ${limit} bytes`, {
              bytes: total,
              maxBytes: limit,
              host: hostOf(finalUrl),
            });
          }
          yield buf;
        }
        finished = true;
      } catch (err) {
        throw asFetchFailure(err);
      } finally {
        if (!finished) discard(res.body);
      }
    }
    const stream = body();
    const etag = headerOf(res.headers, 'etag');
    const lastModified = headerOf(res.headers, 'last-modified');
    log.debug({ requestId: opts.requestId, url: safeForLog(url), final: safeForLog(finalUrl) }, 'stream opened');
    return {
      // destroy(): for callers that give up without iterating to the end or calling return().
      body: Object.assign(stream, { destroy: () => discard(res.body) }),
      contentType: headerOf(res.headers, 'content-type') ?? '',
      finalUrl: finalUrl.toString(),
      ...(etag === undefined ? {} : { etag }),
      ...(lastModified === undefined ? {} : { lastModified }),
    };
  }

  return {
    async fetch(raw, opts = {}) {
      const result = await image(raw, opts, undefined);
      // Without validators the server has nothing to answer 304 to; treat one as an HTTP failure.
      if (result.status !== 'ok') throw httpFailure(304, hostOf(new URL(raw)), undefined);
      return result.bytes;
    },
    async fetchConditional(raw, opts = {}) {
      const validators: Record<string, string> = {};
      if (opts.etag !== undefined) validators['if-none-match'] = opts.etag;
      if (opts.lastModified !== undefined) validators['if-modified-since'] = opts.lastModified;
      return image(raw, opts, Object.keys(validators).length === 0 ? undefined : validators);
    },
    openStream,
    async close() {
      await agent.close();
    },
  };
}
