/**
 * Request guards for the local page and its API: the Host check (DNS rebinding), the Origin check
 * (cross-site POSTs) and the path's % escapes. Pure functions over header strings.
 */
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Host names every server answers to, whatever HOST is. */
export const LOOPBACK_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

/** A Host value: a DNS name, an IPv4 address or a bracketed IPv6 address, then an optional port. */
const HOST_SYNTAX = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;

/**
 * The canonical host name of a Host header value, HOST setting or public host entry (port
 * dropped): lower case, one trailing dot removed, IPv4 and IPv6 literals in the WHATWG URL form
 * (`[0:0::1]` → `[::1]`); a bare IPv6 address (`::1`) is taken as bracketed. `undefined` when the
 * value is not a host (userinfo, a path, spaces …).
 */
export function canonicalHostname(value: string): string | undefined {
  const v = isIPv6(value) ? `[${value}]` : value.trim();
  if (!HOST_SYNTAX.test(v)) return undefined;
  try {
    const name = new URL(`http://${v}`).hostname;
    return name.endsWith('.') ? name.slice(0, -1) : name;
  } catch {
    return undefined;
  }
}

/** Whether HOST means "every local interface" (`0.0.0.0`, `::`, or empty). */
export function isWildcardHost(host: string): boolean {
  const name = host.trim() === '' ? '' : canonicalHostname(host);
  return name === '' || name === '0.0.0.0' || name === '[::]';
}

/** The machine's own interface addresses (os.networkInterfaces()), canonical. */
export function localInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const name = canonicalHostname(a.address);
      if (name !== undefined) out.push(name);
    }
  }
  return out;
}

export interface HostCheckOptions {
  /** The configured HOST. `0.0.0.0` / `::` accept the machine's interface addresses too. */
  host: string;
  /** More names the page answers to (LOOKALIKE_PUBLIC_HOSTS); a port in an entry is ignored. */
  publicHosts?: readonly string[];
  /** The interface addresses for a wildcard HOST (bare or bracketed IPv6). @defaultValue localInterfaceAddresses */
  interfaceAddresses?: () => readonly string[];
}

/**
 * Builds the Host check: true when a Host header value (port ignored) names the configured host,
 * a loopback name, a public host, or (HOST `0.0.0.0` / `::`) one of the machine's addresses.
 * A missing or malformed Host is refused.
 * @throws TypeError when a public host entry is not a host name
 */
export function createHostCheck(options: HostCheckOptions): (hostHeader: string | undefined) => boolean {
  const allowed = new Set<string>();
  for (const h of LOOPBACK_HOSTS) allowed.add(h);
  const wildcard = isWildcardHost(options.host);
  if (!wildcard) {
    const name = canonicalHostname(options.host);
    if (name !== undefined) allowed.add(name);
  }
  for (const entry of options.publicHosts ?? []) {
    const name = canonicalHostname(entry);
    if (name === undefined) throw new TypeError(`Not a host name in the public hosts: ${JSON.stringify(entry)}`);
    allowed.add(name);
  }
  const interfaces = options.interfaceAddresses ?? localInterfaceAddresses;
  return (hostHeader) => {
    if (hostHeader === undefined) return false;
    const name = canonicalHostname(hostHeader);
    if (name === undefined) return false;
    if (allowed.has(name)) return true;
    // Interfaces can change while the process runs (DHCP, VPN): read them when needed.
    return wildcard && interfaces().some((address) => canonicalHostname(address) === name);
  };
}

/**
 * The scheme the client used: `https` when a TLS proxy in front says so (`X-Forwarded-Proto`),
 * else `http` (this server speaks plain HTTP). A browser can't set that header cross-site
 * without a CORS preflight, which this server never grants.
 */
export function requestScheme(forwardedProto: string | string[] | undefined): 'http' | 'https' {
  const first = (Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto)?.split(',')[0];
  return first?.trim().toLowerCase() === 'https' ? 'https' : 'http';
}

/**
 * Whether an `Origin` header value is the request's own origin: the same scheme, host and port as
 * `<scheme>://<Host header>` (default ports elided on both sides). `null` (sandboxed frames,
 * file: pages, some redirects) and anything unparsable are cross-origin.
 */
export function isSameOrigin(origin: string, hostHeader: string | undefined, scheme: 'http' | 'https'): boolean {
  if (hostHeader === undefined || !HOST_SYNTAX.test(hostHeader)) return false;
  try {
    const from = new URL(origin);
    if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
    return from.origin === new URL(`${scheme}://${hostHeader}`).origin;
  } catch {
    return false;
  }
}

/** Methods that may change state (anything but GET, HEAD and OPTIONS). */
export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/** Whether a path has a malformed `%` escape (`%zz`, a lone `%`, or bytes that are not UTF-8). */
export function hasBadEscape(path: string): boolean {
  try {
    decodeURIComponent(path);
    return false;
  } catch {
    return true;
  }
}
