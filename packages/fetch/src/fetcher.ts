/**
 * Safe download of platform attachments: host allowlist and address checked on every redirect hop,
 * credentials only over https, byte limit enforced while streaming, connect and total timeouts,
 * sniffed content.
 */

import { isIP, type LookupFunction } from 'node:net';

import {
  type FetchOptions,
  type ImageFetcher,
  type ImageLimits,
  imageTooLarge,
  type Logger,
  LookalikeError,
  silentLogger,
  sniff,
  USER_MESSAGES,
} from '@lookalike/core';
import { Agent, request } from 'undici';
import { addressRefusal, guardedLookup, parseTrusted } from './address.js';

export interface FetcherOptions {
  /** Hosts that may be fetched, matched exactly (case-insensitive, port ignored). */
  allowedHosts: readonly string[];
  /** Largest accepted body (`maxBytes`), quoted with `maxPixels` in the user sentence. */
  limits: ImageLimits;
  /** Whole download, all redirect hops included. @defaultValue 15000 */
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

/** Drops a response body; its abort error must not surface as an uncaught exception. */
function discard(body: NodeJS.ReadableStream & { destroy(err?: Error): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

/** Normalised host name of a URL: lower case, IPv6 brackets removed. */
function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/**
 * An allowlist entry as a URL host reads it: `::FFFF:127.0.0.1` as `::ffff:7f00:1`, `Bücher.example`
 * in punycode. Entries a URL cannot hold are kept as written (they match nothing).
 */
function normaliseHost(entry: string): string {
  const bare = entry
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  try {
    return hostOf(new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`));
  } catch {
    return bare;
  }
}

const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function carriesCredentials(headers: Record<string, string>): boolean {
  return Object.keys(headers).some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()));
}

/** Logs never include query strings (signed CDN URLs) or headers. */
function safeForLog(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new LookalikeError('FETCH_FAILED', 'Not a valid URL', { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LookalikeError('HOST_NOT_ALLOWED', `Scheme ${url.protocol} is not fetched`, {
      details: { protocol: url.protocol },
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new LookalikeError('HOST_NOT_ALLOWED', 'URLs with credentials are not fetched');
  }
  return url;
}

/** Creates a fetcher with its own connection pool. */
export function createFetcher(options: FetcherOptions): ImageFetcher {
  const allowed = new Set(options.allowedHosts.map(normaliseHost));
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
    if (!allowed.has(host)) {
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

  async function download(first: URL, opts: FetchOptions, signal: AbortSignal): Promise<Buffer> {
    let url = first;
    let headers: Record<string, string> = { ...(opts.headers ?? {}) };
    for (let hop = 0; ; hop++) {
      checkHop(url, headers);
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'image/*', 'user-agent': 'lookalike/0.1', ...headers },
        dispatcher: agent,
        signal,
      });
      if (REDIRECT_CODES.has(res.statusCode)) {
        discard(res.body);
        const location = res.headers.location;
        const target = Array.isArray(location) ? location[0] : location;
        if (target === undefined) {
          throw new LookalikeError('FETCH_FAILED', `Redirect ${res.statusCode} without Location`);
        }
        if (hop >= maxRedirects) {
          throw new LookalikeError('FETCH_FAILED', `More than ${maxRedirects} redirects`);
        }
        const next = parseUrl(new URL(target, url).toString());
        checkHost(next);
        // Like browsers: credentials never follow a redirect to another origin.
        if (next.origin !== url.origin) headers = {};
        log.debug({ requestId: opts.requestId, from: safeForLog(url), to: safeForLog(next) }, 'redirect');
        url = next;
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        discard(res.body);
        throw new LookalikeError('FETCH_FAILED', `HTTP ${res.statusCode} from ${hostOf(url)}`, {
          details: { status: res.statusCode, host: hostOf(url) },
        });
      }
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
  }

  const tooLarge = (bytes: number) => imageTooLarge(`Download exceeds ${maxBytes} bytes`, limits, { bytes });

  return {
    async fetch(raw, opts = {}) {
      const started = Date.now();
      const url = parseUrl(raw);
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new LookalikeError('FETCH_FAILED', `Download took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
      let body: Buffer;
      try {
        body = await download(url, opts, controller.signal);
      } catch (err) {
        const e =
          err instanceof LookalikeError
            ? err
            : controller.signal.aborted && controller.signal.reason instanceof LookalikeError
              ? controller.signal.reason
              : new LookalikeError('FETCH_FAILED', `Download failed: ${(err as Error)?.message ?? String(err)}`, {
                  cause: err,
                });
        log.info(
          { requestId: opts.requestId, url: safeForLog(url), code: e.code, ms: Date.now() - started },
          'fetch failed',
        );
        throw e;
      } finally {
        clearTimeout(timer);
      }
      const kind = sniff(body);
      if (!kind.image) {
        if (kind.kind === 'html' || kind.kind === 'text') {
          const hint = opts.notImageHint;
          throw new LookalikeError('FETCH_NOT_IMAGE', `Got ${kind.kind} instead of an image`, {
            details: { kind: kind.kind },
            ...(hint === undefined ? {} : { userMessage: `${USER_MESSAGES.FETCH_NOT_IMAGE} ${hint}` }),
          });
        }
        if (kind.kind === 'empty') throw new LookalikeError('FETCH_FAILED', 'Empty response body');
        throw new LookalikeError('UNSUPPORTED_IMAGE', `Downloaded ${kind.kind} content`, {
          details: { kind: kind.kind },
        });
      }
      log.debug(
        {
          requestId: opts.requestId,
          url: safeForLog(url),
          bytes: body.length,
          kind: kind.kind,
          ms: Date.now() - started,
        },
        'fetched',
      );
      return body;
    },
    async close() {
      await agent.close();
    },
  };
}
