/**
 * The attachment fetcher against loopback HTTP servers: allowlist, redirects, sniffing,
 * timeouts, byte limit, auth headers (with the private-address opt-in on, as the loopback fakes
 * need), then the address checks and the https rule with the opt-in off (DNS faked through `lookup`).
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ImageFetcher, LookalikeError, USER_MESSAGES } from '@lookalike/core';
import { blockedRange, createFetcher } from '@lookalike/fetch';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { listenOnLoopback } from '../helpers/net.js';

interface Loopback {
  server: Server;
  port: number;
  hits: { path: string; headers: IncomingHttpHeaders }[];
  /** TCP connections accepted (a refused address must not even be connected to). */
  connections: number;
}

/** An HTTP server on 127.0.0.1, or on `host` (127.0.0.2, ::1: other loopback addresses). */
async function serve(handler: RequestListener, host?: string): Promise<Loopback> {
  const hits: Loopback['hits'] = [];
  const server = createServer((req, res) => {
    hits.push({ path: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  const l: Loopback = { server, port: 0, hits, connections: 0 };
  server.on('connection', () => {
    l.connections++;
  });
  if (host === undefined) l.port = await listenOnLoopback(server);
  else {
    server.listen(0, host);
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening on a TCP port');
    l.port = address.port;
  }
  return l;
}

async function stop(l: Loopback): Promise<void> {
  l.server.closeAllConnections();
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
}

describe('fetcher', () => {
  let png: Buffer;
  let main: Loopback;
  let other: Loopback;
  let fetcher: ImageFetcher;
  let bigBytesSent = 0;
  let bigClosed: Promise<void>;
  let resolveBigClosed: () => void = () => {};
  const BIG_TOTAL = 64 * 1024 * 1024;
  const MAX_BYTES = 1024 * 1024;

  before(async () => {
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    bigClosed = new Promise((r) => {
      resolveBigClosed = r;
    });
    other = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    });
    main = await serve((req, res) => {
      const path = req.url ?? '/';
      if (path === '/ok.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      } else if (path === '/html') {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end('<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in to Slack</body></html>');
      } else if (path === '/svg') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>');
      } else if (path === '/redirect-off') {
        res.writeHead(302, { location: `http://localhost:${other.port}/x.png` });
        res.end();
      } else if (path === '/redirect-other-port') {
        res.writeHead(301, { location: `http://127.0.0.1:${other.port}/y.png` });
        res.end();
      } else if (path === '/redirect-same') {
        res.writeHead(307, { location: '/ok.png' });
        res.end();
      } else if (path.startsWith('/loop')) {
        const n = Number(path.slice(5) || '0');
        res.writeHead(302, { location: `/loop${n + 1}` });
        res.end();
      } else if (path === '/missing') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      } else if (path === '/trickle') {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.write(Buffer.from([0xff, 0xd8, 0xff]));
        const timer = setInterval(() => res.write(Buffer.from([0])), 100);
        res.on('close', () => clearInterval(timer));
      } else if (path === '/big') {
        // Chunked (no Content-Length): the limit must be enforced while streaming.
        res.writeHead(200, { 'content-type': 'image/png' });
        const chunk = Buffer.alloc(64 * 1024, 7);
        chunk.set(png.subarray(0, 8));
        const pump = () => {
          while (bigBytesSent < BIG_TOTAL && !res.destroyed) {
            bigBytesSent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        res.on('close', () => resolveBigClosed());
        pump();
      } else if (path === '/declared-big') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(BIG_TOTAL) });
        res.write(png);
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: { maxBytes: MAX_BYTES, maxPixels: 40_000_000 },
      timeoutMs: 1500,
      connectTimeoutMs: 1000,
      allowPrivate: true,
    });
  });

  after(async () => {
    await fetcher.close();
    await stop(main);
    await stop(other);
  });

  test('GIVEN an allowed host serving a PNG THEN the bytes come back and the auth header is sent', async () => {
    const bytes = await fetcher.fetch(`http://127.0.0.1:${main.port}/ok.png`, {
      headers: { authorization: 'Bearer xoxb-test-token' },
    });
    assert.deepEqual(bytes, png);
    const hit = main.hits.find((h) => h.path === '/ok.png');
    assert.equal(hit?.headers.authorization, 'Bearer xoxb-test-token');
  });

  test('GIVEN a host off the allowlist (localhost vs 127.0.0.1) THEN HOST_NOT_ALLOWED and no request is made', async () => {
    const before = other.hits.length + main.hits.length;
    await rejectsWith(fetcher.fetch(`http://localhost:${main.port}/ok.png`), 'HOST_NOT_ALLOWED');
    assert.equal(other.hits.length + main.hits.length, before);
  });

  test('GIVEN non-http schemes THEN HOST_NOT_ALLOWED', async () => {
    await rejectsWith(fetcher.fetch('file:///etc/passwd'), 'HOST_NOT_ALLOWED');
    await rejectsWith(fetcher.fetch('ftp://127.0.0.1/x.png'), 'HOST_NOT_ALLOWED');
    await rejectsWith(fetcher.fetch(`http://user:pw@127.0.0.1:${main.port}/ok.png`), 'HOST_NOT_ALLOWED');
  });

  test('GIVEN a redirect from an allowed host to a disallowed one THEN HOST_NOT_ALLOWED and the target is never hit', async () => {
    const before = other.hits.length;
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/redirect-off`), 'HOST_NOT_ALLOWED');
    assert.equal(other.hits.length, before);
  });

  test('GIVEN redirects within the allowlist THEN they are followed, and credentials are dropped across origins', async () => {
    const same = await fetcher.fetch(`http://127.0.0.1:${main.port}/redirect-same`, {
      headers: { authorization: 'Bearer same-origin' },
    });
    assert.deepEqual(same, png);
    assert.equal(main.hits.at(-1)?.headers.authorization, 'Bearer same-origin');

    const cross = await fetcher.fetch(`http://127.0.0.1:${main.port}/redirect-other-port`, {
      headers: { authorization: 'Bearer must-not-leak' },
    });
    assert.deepEqual(cross, png);
    const hit = other.hits.find((h) => h.path === '/y.png');
    assert.ok(hit !== undefined);
    assert.equal(hit.headers.authorization, undefined);
  });

  test('GIVEN more than 3 redirects THEN FETCH_FAILED', async () => {
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/loop0`), 'FETCH_FAILED');
    assert.equal(main.hits.filter((h) => h.path.startsWith('/loop')).length, 4);
  });

  test('GIVEN an HTML page served as image/jpeg with 200 THEN FETCH_NOT_IMAGE with the hint appended', async () => {
    const err = await rejectsWith(
      fetcher.fetch(`http://127.0.0.1:${main.port}/html`, { notImageHint: 'Add the files:read scope.' }),
      'FETCH_NOT_IMAGE',
    );
    assert.equal(err.userMessage, `${USER_MESSAGES.FETCH_NOT_IMAGE} Add the files:read scope.`);
    const plain = await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/html`), 'FETCH_NOT_IMAGE');
    assert.equal(plain.userMessage, USER_MESSAGES.FETCH_NOT_IMAGE);
  });

  test('GIVEN an SVG served as image/png THEN UNSUPPORTED_IMAGE', async () => {
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/svg`), 'UNSUPPORTED_IMAGE');
  });

  test('GIVEN a 404 or a closed port THEN FETCH_FAILED', async () => {
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/missing`), 'FETCH_FAILED');
    const closed = await serve(() => {});
    const port = closed.port;
    await stop(closed);
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${port}/x.png`), 'FETCH_FAILED');
  });

  test('GIVEN a server trickling bytes forever THEN the total timeout cuts it with FETCH_FAILED', async () => {
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/trickle`), 'FETCH_FAILED');
  });

  test('GIVEN a body over the byte limit THEN IMAGE_TOO_LARGE without downloading it all', async () => {
    const err = await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/big`), 'IMAGE_TOO_LARGE');
    assert.ok(Number(err.details.bytes) > MAX_BYTES);
    await bigClosed;
    // The server stopped well before the end: the client aborted as soon as the limit was passed.
    assert.ok(bigBytesSent < BIG_TOTAL / 2, `server sent ${bigBytesSent} of ${BIG_TOTAL} bytes`);
  });

  test('GIVEN a declared Content-Length over the limit THEN IMAGE_TOO_LARGE before reading the body', async () => {
    await rejectsWith(fetcher.fetch(`http://127.0.0.1:${main.port}/declared-big`), 'IMAGE_TOO_LARGE');
  });
});

/** A fake DNS (names → addresses) that records every name it was asked for. */
function fakeDns(table: Record<string, string[]>): { lookup: LookupFunction; asked: string[] } {
  const asked: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    process.nextTick(() => {
      const addresses = table[hostname];
      const first = addresses?.[0];
      if (addresses === undefined || first === undefined) {
        const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        err.code = 'ENOTFOUND';
        callback(err, '', undefined);
        return;
      }
      const family = (a: string) => (a.includes(':') ? 6 : 4);
      const list: LookupAddress[] = addresses.map((address) => ({ address, family: family(address) }));
      if (options.all === true) callback(null, list);
      else callback(null, first, family(first));
    });
  };
  return { lookup, asked };
}

describe('fetcher with the private-address opt-in off', () => {
  const limits = { maxBytes: 1024 * 1024, maxPixels: 40_000_000 };
  let png: Buffer;
  /** 127.0.0.1: the stand-in for a public CDN (trusted below) and the redirect source. */
  let cdn: Loopback;
  /** 127.0.0.2 and ::1: internal services that must never be reached. */
  let internal: Loopback;
  let internal6: Loopback;
  const fetchers: ImageFetcher[] = [];
  const make = (options: Omit<Parameters<typeof createFetcher>[0], 'limits'>): ImageFetcher => {
    const f = createFetcher({ limits, timeoutMs: 3000, connectTimeoutMs: 1000, ...options });
    fetchers.push(f);
    return f;
  };
  const reached = () => internal.connections + internal6.connections;

  before(async () => {
    png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#cc6633' } })
      .png()
      .toBuffer();
    const image: RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    };
    internal = await serve(image, '127.0.0.2');
    internal6 = await serve(image, '::1');
    cdn = await serve((req, res) => {
      const redirects: Record<string, string> = {
        '/to-internal': `http://internal.example:${internal.port}/secret.png`,
        '/to-mapped': `http://[::ffff:127.0.0.2]:${internal.port}/secret.png`,
        '/to-metadata': 'http://169.254.169.254/latest/meta-data/',
      };
      const location = redirects[req.url ?? ''];
      if (location !== undefined) {
        res.writeHead(302, { location });
        res.end();
      } else image(req, res);
    });
  });

  after(async () => {
    await Promise.all(fetchers.map((f) => f.close()));
    await Promise.all([stop(cdn), stop(internal), stop(internal6)]);
  });

  test('GIVEN localhost, 127.0.0.2, [::1] and [::ffff:127.0.0.1] on the allowlist THEN FETCH_BLOCKED_ADDRESS and nothing is connected to', async () => {
    // No allowPrivate here: off is the default.
    const fetcher = make({ allowedHosts: ['localhost', '127.0.0.2', '::1', '::ffff:127.0.0.1'] });
    const before = { cdn: cdn.connections, internal: reached() };
    for (const url of [
      `http://localhost:${cdn.port}/ok.png`,
      `http://127.0.0.2:${internal.port}/secret.png`,
      `http://[::1]:${internal6.port}/secret.png`,
      `http://[::ffff:127.0.0.1]:${cdn.port}/ok.png`,
    ]) {
      const err = await rejectsWith(fetcher.fetch(url), 'FETCH_BLOCKED_ADDRESS');
      assert.equal(err.userMessage, USER_MESSAGES.FETCH_BLOCKED_ADDRESS);
      assert.equal(err.details.range, 'loopback', url);
    }
    assert.deepEqual({ cdn: cdn.connections, internal: reached() }, before);
  });

  test('GIVEN private, link-local, CGNAT, unique-local, multicast, unspecified and embedded-IPv4 literals THEN each is refused before any connect', async () => {
    const cases: [string, string][] = [
      ['http://10.0.0.1/x.png', 'private'],
      ['http://172.16.5.4/x.png', 'private'],
      ['http://192.168.1.1/x.png', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
      ['http://100.64.0.1/x.png', 'carrierGradeNat'],
      ['http://0.0.0.0/x.png', 'unspecified'],
      ['http://224.0.0.1/x.png', 'multicast'],
      ['http://255.255.255.255/x.png', 'broadcast'],
      ['http://240.0.0.1/x.png', 'reserved'],
      ['http://2130706433/x.png', 'loopback'],
      ['http://0x7f.1/x.png', 'loopback'],
      ['http://[fd00::1]/x.png', 'uniqueLocal'],
      ['http://[fe80::1]/x.png', 'linkLocal'],
      ['http://[::]/x.png', 'unspecified'],
      ['http://[ff02::1]/x.png', 'multicast'],
      ['http://[::ffff:10.0.0.1]/x.png', 'private'],
      ['http://[::ffff:169.254.169.254]/x.png', 'linkLocal'],
      ['http://[64:ff9b::a00:1]/x.png', 'rfc6052(private)'],
      ['http://[2002:7f00:1::1]/x.png', '6to4(loopback)'],
    ];
    const fetcher = make({ allowedHosts: cases.map(([url]) => new URL(url).hostname) });
    for (const [url, range] of cases) {
      // Nothing listens at these addresses: a connect attempt would give FETCH_FAILED, not this code.
      const err = await rejectsWith(fetcher.fetch(url), 'FETCH_BLOCKED_ADDRESS');
      assert.equal(err.details.range, range, url);
    }
  });

  test('GIVEN public addresses THEN blockedRange lets them through, also behind IPv4-mapped, NAT64 and 6to4 forms', () => {
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ]) {
      assert.equal(blockedRange(address), undefined, address);
    }
    assert.equal(blockedRange('::ffff:127.0.0.1'), 'loopback');
    assert.equal(blockedRange('2001:db8::1'), 'reserved');
    assert.equal(blockedRange('not-an-address'), 'invalid');
  });

  test('GIVEN names that resolve to a private address THEN FETCH_BLOCKED_ADDRESS at resolution, also when only one answer of several is private', async () => {
    const dns = fakeDns({
      'photos.example': ['10.0.0.7'],
      'mixed.example': ['93.184.216.34', '127.0.0.2'],
      'metadata.example': ['169.254.169.254'],
      'v6.example': ['fd12:3456::1'],
    });
    const cases: [string, string, string][] = [
      ['photos.example', '10.0.0.7', 'private'],
      ['mixed.example', '127.0.0.2', 'loopback'],
      ['metadata.example', '169.254.169.254', 'linkLocal'],
      ['v6.example', 'fd12:3456::1', 'uniqueLocal'],
    ];
    const fetcher = make({ allowedHosts: cases.map(([host]) => host), lookup: dns.lookup });
    const before = reached();
    for (const [host, address, range] of cases) {
      const err = await rejectsWith(fetcher.fetch(`http://${host}:${internal.port}/x.png`), 'FETCH_BLOCKED_ADDRESS');
      assert.deepEqual({ ...err.details }, { host, address, range });
    }
    assert.deepEqual(
      dns.asked,
      cases.map(([host]) => host),
    );
    assert.equal(reached(), before);
  });

  test('GIVEN a redirect from an allowed public-looking name to a private address THEN FETCH_BLOCKED_ADDRESS and the target is never connected to', async () => {
    // cdn.public.example "resolves" to 127.0.0.1, trusted here to stand in for a public CDN address
    // (a test cannot reach one); internal.example resolves to 127.0.0.2, where a server listens.
    const dns = fakeDns({ 'cdn.public.example': ['127.0.0.1'], 'internal.example': ['127.0.0.2'] });
    const fetcher = make({
      allowedHosts: ['cdn.public.example', 'internal.example', '169.254.169.254', '::ffff:127.0.0.2'],
      trustedAddresses: ['127.0.0.1'],
      lookup: dns.lookup,
    });
    const base = `http://cdn.public.example:${cdn.port}`;
    assert.deepEqual(await fetcher.fetch(`${base}/ok.png`), png, 'the first hop itself is allowed');
    const before = reached();

    const named = await rejectsWith(fetcher.fetch(`${base}/to-internal`), 'FETCH_BLOCKED_ADDRESS');
    assert.deepEqual({ ...named.details }, { host: 'internal.example', address: '127.0.0.2', range: 'loopback' });
    assert.ok(dns.asked.includes('internal.example'), 'refused when the redirect target was resolved');
    assert.ok(cdn.hits.some((h) => h.path === '/to-internal'));

    const mapped = await rejectsWith(fetcher.fetch(`${base}/to-mapped`), 'FETCH_BLOCKED_ADDRESS');
    assert.equal(mapped.details.range, 'loopback');
    const metadata = await rejectsWith(fetcher.fetch(`${base}/to-metadata`), 'FETCH_BLOCKED_ADDRESS');
    assert.equal(metadata.details.range, 'linkLocal');

    assert.equal(reached(), before, 'no connection to 127.0.0.2 or ::1');
  });

  test('GIVEN a token (Authorization or Cookie) on a plain http URL THEN FETCH_INSECURE and nothing is sent', async () => {
    const dns = fakeDns({ 'cdn.public.example': ['127.0.0.1'] });
    const fetcher = make({
      allowedHosts: ['cdn.public.example'],
      trustedAddresses: ['127.0.0.1/32'],
      lookup: dns.lookup,
    });
    const url = `http://cdn.public.example:${cdn.port}/ok.png`;
    const hits = cdn.hits.length;
    for (const headers of [{ authorization: 'Bearer xoxb-must-not-travel' }, { Cookie: 'd=session' }]) {
      const err = await rejectsWith(fetcher.fetch(url, { headers }), 'FETCH_INSECURE');
      assert.equal(err.userMessage, USER_MESSAGES.FETCH_INSECURE);
    }
    assert.equal(cdn.hits.length, hits);
    assert.deepEqual(await fetcher.fetch(url), png, 'without a token plain http is fine');
  });

  test('GIVEN the opt-in on THEN loopback addresses, an injected resolver and tokens over http all work', async () => {
    const auth = { headers: { authorization: 'Bearer self-hosted' } };
    const system = make({ allowedHosts: ['localhost', '127.0.0.2', '::1', '::ffff:127.0.0.1'], allowPrivate: true });
    for (const url of [
      `http://localhost:${cdn.port}/ok.png`,
      `http://127.0.0.2:${internal.port}/ok.png`,
      `http://[::1]:${internal6.port}/ok.png`,
      `http://[::ffff:127.0.0.1]:${cdn.port}/ok.png`,
    ]) {
      assert.deepEqual(await system.fetch(url, auth), png, url);
    }
    assert.equal(internal6.hits.at(-1)?.headers.authorization, 'Bearer self-hosted');

    const dns = fakeDns({ 'internal.example': ['127.0.0.2'] });
    const faked = make({ allowedHosts: ['internal.example'], allowPrivate: true, lookup: dns.lookup });
    assert.deepEqual(await faked.fetch(`http://internal.example:${internal.port}/named.png`, auth), png);
    assert.deepEqual(dns.asked, ['internal.example']);
    assert.equal(internal.hits.at(-1)?.path, '/named.png');
    assert.equal(internal.hits.at(-1)?.headers.authorization, 'Bearer self-hosted');
  });

  test('GIVEN a trusted entry that is not an address or range THEN createFetcher throws CONFIG_INVALID', () => {
    assert.throws(
      () => createFetcher({ allowedHosts: [], limits, trustedAddresses: ['10.0.0.0/33'] }),
      (err) => err instanceof LookalikeError && err.code === 'CONFIG_INVALID',
    );
  });
});
