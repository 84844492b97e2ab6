/**
 * URL and header rules shared by every download: http(s) only, no credentials in URLs, host
 * names compared as a URL reads them, nothing secret in logs.
 */
import { LookalikeError } from '@lookalike/core';
import { fetchFailed } from './failures.js';

/** Normalised host name of a URL: lower case, IPv6 brackets removed. */
export function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/**
 * An allowlist entry as a URL host reads it: `::FFFF:127.0.0.1` as `::ffff:7f00:1`, `Bücher.example`
 * in punycode. Entries a URL cannot hold are kept as written (they match nothing).
 */
export function normaliseHost(entry: string): string {
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

export function carriesCredentials(headers: Record<string, string>): boolean {
  return Object.keys(headers).some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()));
}

/** Logs never include query strings (signed CDN URLs) or headers. */
export function safeForLog(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * @throws LookalikeError FETCH_FAILED (reason invalid-url), HOST_NOT_ALLOWED for another scheme
 *   or credentials in the URL
 */
export function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw fetchFailed('invalid-url', 'Not a valid URL', {}, cause);
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

/** The first value of a response header. */
export function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
