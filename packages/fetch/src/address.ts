/**
 * Which network addresses a download may connect to. Names are resolved by the fetcher itself
 * (undici `connect.lookup`), so the address checked is the address connected to: no second DNS
 * answer in between (rebinding), and every redirect hop opens its connection through the same check.
 */

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { LookalikeError } from '@lookalike/core';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Embedded IPv4 of a NAT64 well-known-prefix address (64:ff9b::/96, RFC 6052). */
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

function ipv4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function rangeOf(ip: Address): string | undefined {
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (ip.kind() === 'ipv6') {
    const parts = (ip as ipaddr.IPv6).parts;
    // Translation prefixes carry an IPv4 address: judge that one (NAT64 of 10.0.0.1 is private).
    if (range === 'rfc6052' && ip.match(NAT64)) {
      const inner = rangeOf(ipv4FromParts(parts[6] ?? 0, parts[7] ?? 0));
      return inner === undefined ? undefined : `rfc6052(${inner})`;
    }
    if (range === '6to4') {
      const inner = rangeOf(ipv4FromParts(parts[1] ?? 0, parts[2] ?? 0));
      return inner === undefined ? undefined : `6to4(${inner})`;
    }
  }
  return range;
}

/**
 * The reason an address is off limits for downloads, or `undefined` for a public unicast address.
 * IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address, NAT64 and 6to4 by the IPv4
 * address they embed. Anything ipaddr.js does not class as `unicast` is refused: loopback, private
 * (RFC 1918), link-local (169.254.169.254 cloud metadata), CGNAT, unique-local, multicast,
 * unspecified, broadcast, reserved and documentation ranges, Teredo.
 * An unparseable string is refused too (`invalid`).
 */
export function blockedRange(address: string): string | undefined {
  let ip: Address;
  try {
    ip = ipaddr.process(address);
  } catch {
    return 'invalid';
  }
  return rangeOf(ip);
}

/** Parsed `trustedAddresses`: CIDR ranges (or single addresses) exempt from the block. */
export type TrustedRanges = readonly (readonly [Address, number])[];

/** @throws LookalikeError CONFIG_INVALID for an entry that is not an address or CIDR range. */
export function parseTrusted(entries: readonly string[]): TrustedRanges {
  return entries.map((raw) => {
    const entry = raw.trim();
    let net: readonly [Address, number];
    try {
      if (entry.includes('/')) net = ipaddr.parseCIDR(entry);
      else {
        const ip = ipaddr.parse(entry);
        net = [ip, ip.kind() === 'ipv4' ? 32 : 128];
      }
    } catch (cause) {
      throw new LookalikeError('CONFIG_INVALID', `Not an address or CIDR range: ${entry}`, { cause });
    }
    // Addresses are compared after ipaddr.process(), which turns IPv4-mapped IPv6 into IPv4.
    const [ip, bits] = net;
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(ip as ipaddr.IPv6).toIPv4Address(), bits - 96] as const;
    }
    return net;
  });
}

function isTrusted(address: string, trusted: TrustedRanges): boolean {
  if (trusted.length === 0) return false;
  let ip: Address;
  try {
    ip = ipaddr.process(address);
  } catch {
    return false;
  }
  return trusted.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits));
}

/** The FETCH_BLOCKED_ADDRESS refusal for `address`, or `undefined` when it may be connected to. */
export function addressRefusal(host: string, address: string, trusted: TrustedRanges): LookalikeError | undefined {
  const range = blockedRange(address);
  if (range === undefined || isTrusted(address, trusted)) return undefined;
  return new LookalikeError('FETCH_BLOCKED_ADDRESS', `${host} is ${address} (${range}), not a public address`, {
    details: { host, address, range },
  });
}

/**
 * A `lookup` for undici's `connect` options that resolves through `resolve` (dns.lookup by default,
 * or an injected resolver) and refuses the connection when any answer is off limits.
 */
export function guardedLookup(trusted: TrustedRanges, resolve: LookupFunction = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, answer, family) => {
      if (err) {
        callback(err, '', undefined);
        return;
      }
      const list: LookupAddress[] =
        typeof answer === 'string' ? [{ address: answer, family: family ?? (answer.includes(':') ? 6 : 4) }] : answer;
      const first = list[0];
      if (first === undefined) {
        const none: NodeJS.ErrnoException = new Error(`No address for ${hostname}`);
        none.code = 'ENOTFOUND';
        callback(none, '', undefined);
        return;
      }
      for (const { address } of list) {
        const refusal = addressRefusal(hostname, address, trusted);
        if (refusal !== undefined) {
          callback(refusal, '', undefined);
          return;
        }
      }
      if (options.all === true) callback(null, list);
      else callback(null, first.address, first.family);
    });
  };
}
