/**
 * The fetcher's conditional downloads and feed streams against loopback servers:
 * - fetchConditional sends If-None-Match / If-Modified-Since on every redirect hop; a 304 is
 *   "not modified", a 200 the bytes with the sniffed type, the validators and the final URL;
 *   fetch() (unconditional) takes a 304 as a failure;
 * - failures carry `details.reason` (http, timeout, network, redirects), `details.status` and,
 *   on 429/503, `details.retryAfterMs` from Retry-After in both forms;
 * - `allowedHosts: 'any-public'` takes any host name but still never a private address;
 * - openStream: content type and validators, byte limit declared and streamed, head and idle
 *   timeouts, and a body left early closes its connection (the server sees the socket close).
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConditionalFetcher } from '@lookalike/core';
import { createFetcher, type FetcherOptions, parseRetryAfter } from '@lookalike/fetch';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { listenOnLoopback } from '../helpers/net.js';

interface Loopback {
  server: Server;
  port: number;
  origin: string;
  hits: { path: string; headers: IncomingHttpHeaders }[];
  connections: number;
}

async function serve(handler: RequestListener, host = '127.0.0.1'): Promise<Loopback> {
  const hits: Loopback['hits'] = [];
  const server = createServer((req, res) => {
    hits.push({ path: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  const l: Loopback = { server, port: 0, origin: '', hits, connections: 0 };
  server.on('connection', () => {
    l.connections++;
  });
  if (host === '127.0.0.1') l.port = await listenOnLoopback(server);
  else {
    server.listen(0, host);
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening on a TCP port');
    l.port = address.port;
  }
  l.origin = `http://${host}:${l.port}`;
  return l;
}

async function stop(l: Loopback): Promise<void> {
  l.server.closeAllConnections();
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
}

/** Fails the test instead of hanging it when `p` does not settle (not a timing assertion: a guard). */
async function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  const stop = new AbortController();
  const guard = sleep(ms, undefined, { signal: stop.signal }).then(() => assert.fail(`never happened: ${what}`));
  guard.catch(() => {});
  try {
    return await Promise.race([p, guard]);
  } finally {
    stop.abort();
  }
}

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

const ETAG = '"v1-abc"';
const LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT';
const LIMITS = { maxBytes: 1024 * 1024, maxPixels: 40_000_000 };

describe('fetchConditional and fetch', () => {
  let png: Buffer;
  let main: Loopback;
  let other: Loopback;
  let fetcher: ConditionalFetcher;

  before(async () => {
    png = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#2255aa' } })
      .png()
      .toBuffer();
    const image: RequestListener = (req, res) => {
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      const fresh =
        inm !== undefined ? inm === ETAG : ims !== undefined && Date.parse(ims) >= Date.parse(LAST_MODIFIED);
      if (fresh) {
        res.writeHead(304, { etag: ETAG, 'last-modified': LAST_MODIFIED });
        res.end();
        return;
      }
      // The server's claim is wrong on purpose: the result's type is sniffed.
      res.writeHead(200, { 'content-type': 'image/jpeg', etag: ETAG, 'last-modified': LAST_MODIFIED });
      res.end(png);
    };
    other = await serve(image);
    main = await serve((req, res) => {
      const path = req.url ?? '/';
      const [route, query = ''] = path.split('?');
      const params = new URLSearchParams(query);
      if (route === '/img/v.png') image(req, res);
      else if (route === '/moved') {
        res.writeHead(301, { location: '/img/v.png' });
        res.end();
      } else if (route === '/moved-away') {
        res.writeHead(302, { location: `${other.origin}/img/elsewhere.png` });
        res.end();
      } else if (route === '/always-304') {
        res.writeHead(304, { etag: ETAG });
        res.end();
      } else if (route === '/no-validators') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      } else if (route === '/status') {
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        const retryAfter = params.get('retry-after');
        if (retryAfter !== null) headers['retry-after'] = retryAfter;
        res.writeHead(Number(params.get('code')), headers);
        res.end('no');
      } else if (route === '/stall') {
        // Never answers.
      } else if (route === '/reset') {
        req.socket.destroy();
      } else if (route?.startsWith('/loop')) {
        res.writeHead(302, { location: `/loop${Number(route.slice(5) || '0') + 1}` });
        res.end();
      } else if (route === '/no-location') {
        res.writeHead(302);
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: LIMITS,
      timeoutMs: 500,
      connectTimeoutMs: 1000,
      allowPrivate: true,
    });
  });

  after(async () => {
    await fetcher.close();
    await stop(main);
    await stop(other);
  });

  test('GIVEN the ETag held THEN If-None-Match is sent and a 304 is not-modified', async () => {
    const result = await fetcher.fetchConditional(`${main.origin}/img/v.png`, { etag: ETAG });
    assert.deepEqual(result, { status: 'not-modified' });
    const hit = main.hits.at(-1);
    assert.equal(hit?.headers['if-none-match'], ETAG);
    assert.equal(hit?.headers['if-modified-since'], undefined);
  });

  test('GIVEN only the Last-Modified held THEN If-Modified-Since is sent and a 304 is not-modified', async () => {
    const result = await fetcher.fetchConditional(`${main.origin}/img/v.png`, { lastModified: LAST_MODIFIED });
    assert.deepEqual(result, { status: 'not-modified' });
    const hit = main.hits.at(-1);
    assert.equal(hit?.headers['if-modified-since'], LAST_MODIFIED);
    assert.equal(hit?.headers['if-none-match'], undefined);
  });

  test('GIVEN a stale ETag and a redirect THEN both hops carry the validators and the 200 gives bytes, sniffed type, validators and the final URL', async () => {
    const before = main.hits.length;
    const result = await fetcher.fetchConditional(`${main.origin}/moved`, {
      etag: '"v0-old"',
      lastModified: 'Tue, 01 Jan 2019 00:00:00 GMT',
    });
    assert.deepEqual(result, {
      status: 'ok',
      bytes: png,
      contentType: 'image/png',
      etag: ETAG,
      lastModified: LAST_MODIFIED,
      finalUrl: `${main.origin}/img/v.png`,
    });
    const hops = main.hits.slice(before);
    assert.deepEqual(
      hops.map((h) => [h.path, h.headers['if-none-match'], h.headers['if-modified-since']]),
      [
        ['/moved', '"v0-old"', 'Tue, 01 Jan 2019 00:00:00 GMT'],
        ['/img/v.png', '"v0-old"', 'Tue, 01 Jan 2019 00:00:00 GMT'],
      ],
    );
  });

  test('GIVEN the current ETag and a redirect THEN the target answers 304 to the validators that followed the hop', async () => {
    assert.deepEqual(await fetcher.fetchConditional(`${main.origin}/moved`, { etag: ETAG }), {
      status: 'not-modified',
    });
    assert.equal(main.hits.at(-1)?.path, '/img/v.png');
  });

  test('GIVEN a redirect to another origin THEN the validators follow it but the credentials do not', async () => {
    const result = await fetcher.fetchConditional(`${main.origin}/moved-away`, {
      etag: ETAG,
      headers: { authorization: 'Bearer stays-home' },
    });
    assert.deepEqual(result, { status: 'not-modified' });
    const hit = other.hits.at(-1);
    assert.equal(hit?.path, '/img/elsewhere.png');
    assert.equal(hit?.headers['if-none-match'], ETAG);
    assert.equal(hit?.headers.authorization, undefined);
    assert.equal(main.hits.at(-1)?.headers.authorization, 'Bearer stays-home');
  });

  test('GIVEN nothing held THEN fetchConditional is a plain download without validators', async () => {
    const result = await fetcher.fetchConditional(`${main.origin}/no-validators`);
    assert.equal(result.status, 'ok');
    assert.ok(result.status === 'ok' && result.bytes.equals(png));
    assert.ok(result.status === 'ok' && result.etag === undefined && result.lastModified === undefined);
    const hit = main.hits.at(-1);
    assert.equal(hit?.headers['if-none-match'], undefined);
    assert.equal(hit?.headers['if-modified-since'], undefined);
  });

  test('GIVEN a server answering 304 to a request without validators THEN fetch() and fetchConditional() fail with HTTP 304', async () => {
    for (const attempt of [
      () => fetcher.fetch(`${main.origin}/always-304`),
      () => fetcher.fetchConditional(`${main.origin}/always-304`),
    ]) {
      const err = await rejectsWith(attempt(), 'FETCH_FAILED');
      assert.deepEqual([err.details.reason, err.details.status], ['http', 304]);
      assert.equal(main.hits.at(-1)?.headers['if-none-match'], undefined);
    }
    // fetch() never sends validators, so even the image route answers it with the bytes.
    assert.deepEqual(await fetcher.fetch(`${main.origin}/img/v.png`), png);
  });

  test('GIVEN 404, 500, a stalled answer, a reset connection, a closed port and redirect loops THEN details.reason and details.status say which', async () => {
    const cases: [string, string, number | undefined][] = [
      ['/status?code=404', 'http', 404],
      ['/status?code=500&retry-after=5', 'http', 500],
      ['/stall', 'timeout', undefined],
      ['/reset', 'network', undefined],
      ['/loop0', 'redirects', undefined],
      ['/no-location', 'redirects', 302],
    ];
    for (const [path, reason, status] of cases) {
      const err = await rejectsWith(fetcher.fetchConditional(`${main.origin}${path}`, { etag: ETAG }), 'FETCH_FAILED');
      assert.equal(err.details.reason, reason, path);
      assert.equal(err.details.status, status, path);
      // Retry-After means something on 429 and 503 only.
      assert.equal(err.details.retryAfterMs, undefined, path);
    }
    const closed = await serve(() => {});
    const port = closed.port;
    await stop(closed);
    const refused = await rejectsWith(fetcher.fetch(`http://127.0.0.1:${port}/x.png`), 'FETCH_FAILED');
    assert.equal(refused.details.reason, 'network');
    assert.equal(refused.details.errorCode, 'ECONNREFUSED');
  });

  test('GIVEN 429 and 503 with Retry-After in seconds or as an HTTP date THEN details.retryAfterMs holds the wait', async () => {
    const seconds = await rejectsWith(fetcher.fetch(`${main.origin}/status?code=429&retry-after=7`), 'FETCH_FAILED');
    assert.deepEqual([seconds.details.status, seconds.details.retryAfterMs], [429, 7000]);

    const at = new Date(Date.now() + 60_000).toUTCString();
    const dated = await rejectsWith(
      fetcher.fetchConditional(`${main.origin}/status?code=503&retry-after=${encodeURIComponent(at)}`, { etag: ETAG }),
      'FETCH_FAILED',
    );
    assert.equal(dated.details.status, 503);
    const ms = dated.details.retryAfterMs as number;
    // An HTTP date has whole seconds: what is left of the minute, give or take one.
    assert.ok(ms > 30_000 && ms <= 60_000, `retryAfterMs ${ms}`);

    const past = await rejectsWith(
      fetcher.fetch(`${main.origin}/status?code=503&retry-after=${encodeURIComponent(LAST_MODIFIED)}`),
      'FETCH_FAILED',
    );
    assert.equal(past.details.retryAfterMs, 0);
    const garbage = await rejectsWith(fetcher.fetch(`${main.origin}/status?code=429&retry-after=soon`), 'FETCH_FAILED');
    assert.equal(garbage.details.retryAfterMs, undefined);
    const none = await rejectsWith(fetcher.fetch(`${main.origin}/status?code=429`), 'FETCH_FAILED');
    assert.equal(none.details.retryAfterMs, undefined);
  });

  test('GIVEN Retry-After values THEN parseRetryAfter reads delta-seconds and HTTP dates, never negative', () => {
    const now = Date.parse('Wed, 01 Jan 2025 00:00:00 GMT');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:01:30 GMT', now), 90_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(['30', '60'], now), 30_000);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('later', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});

describe("allowedHosts 'any-public'", () => {
  let png: Buffer;
  /** 127.0.0.1: stands in for a public shop CDN (trusted below). */
  let cdn: Loopback;
  /** 127.0.0.2: an internal service no feed may reach. */
  let internal: Loopback;
  const fetchers: ConditionalFetcher[] = [];
  const make = (options: Omit<FetcherOptions, 'limits' | 'allowedHosts'>): ConditionalFetcher => {
    const f = createFetcher({ allowedHosts: 'any-public', limits: LIMITS, timeoutMs: 3000, ...options });
    fetchers.push(f);
    return f;
  };

  before(async () => {
    png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#aa5522' } })
      .png()
      .toBuffer();
    const image: RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    };
    internal = await serve(image, '127.0.0.2');
    cdn = await serve((req, res) => {
      if (req.url === '/to-internal') {
        res.writeHead(302, { location: `http://intranet.shop.example:${internal.port}/secret.png` });
        res.end();
      } else if (req.url === '/to-literal') {
        res.writeHead(302, { location: `http://127.0.0.2:${internal.port}/secret.png` });
        res.end();
      } else image(req, res);
    });
  });

  after(async () => {
    await Promise.all(fetchers.map((f) => f.close()));
    await Promise.all([stop(cdn), stop(internal)]);
  });

  test('GIVEN any-public without the private opt-in THEN loopback and private literals are FETCH_BLOCKED_ADDRESS for every kind of download', async () => {
    const fetcher = make({});
    const before = cdn.connections + internal.connections;
    for (const url of [
      `${cdn.origin}/a.png`,
      `${internal.origin}/b.png`,
      'http://10.1.2.3/c.png',
      'http://[::1]/d.png',
    ]) {
      await rejectsWith(fetcher.fetch(url), 'FETCH_BLOCKED_ADDRESS');
      await rejectsWith(fetcher.fetchConditional(url, { etag: ETAG }), 'FETCH_BLOCKED_ADDRESS');
      await rejectsWith(fetcher.openStream(url), 'FETCH_BLOCKED_ADDRESS');
    }
    assert.equal(cdn.connections + internal.connections, before, 'nothing was connected to');
  });

  test('GIVEN names resolving to private addresses THEN FETCH_BLOCKED_ADDRESS when resolved, and nothing is connected to', async () => {
    const dns = fakeDns({ 'img.shop.example': ['10.0.0.7'], 'feed.shop.example': ['127.0.0.2'] });
    const fetcher = make({ lookup: dns.lookup });
    const before = internal.connections;
    const img = await rejectsWith(
      fetcher.fetchConditional(`http://img.shop.example:${internal.port}/x.png`),
      'FETCH_BLOCKED_ADDRESS',
    );
    assert.deepEqual({ ...img.details }, { host: 'img.shop.example', address: '10.0.0.7', range: 'private' });
    const feed = await rejectsWith(
      fetcher.openStream(`http://feed.shop.example:${internal.port}/feed.tsv`),
      'FETCH_BLOCKED_ADDRESS',
    );
    assert.equal(feed.details.range, 'loopback');
    assert.deepEqual(dns.asked, ['img.shop.example', 'feed.shop.example']);
    assert.equal(internal.connections, before);
  });

  test('GIVEN hosts no list names THEN they are fetched, but a redirect from them to a private address is refused before connecting', async () => {
    const dns = fakeDns({
      'cdn.any-shop.example': ['127.0.0.1'],
      'images.other-shop.example': ['127.0.0.1'],
      'intranet.shop.example': ['127.0.0.2'],
    });
    // 127.0.0.1 is trusted to stand in for a public CDN address (a test cannot reach one).
    const fetcher = make({ lookup: dns.lookup, trustedAddresses: ['127.0.0.1'] });
    assert.deepEqual(await fetcher.fetch(`http://cdn.any-shop.example:${cdn.port}/a.png`), png);
    const result = await fetcher.fetchConditional(`http://images.other-shop.example:${cdn.port}/b.png`);
    assert.equal(result.status, 'ok');
    const before = internal.connections;
    const named = await rejectsWith(
      fetcher.fetch(`http://cdn.any-shop.example:${cdn.port}/to-internal`),
      'FETCH_BLOCKED_ADDRESS',
    );
    assert.deepEqual({ ...named.details }, { host: 'intranet.shop.example', address: '127.0.0.2', range: 'loopback' });
    const literal = await rejectsWith(
      fetcher.fetchConditional(`http://cdn.any-shop.example:${cdn.port}/to-literal`, { etag: ETAG }),
      'FETCH_BLOCKED_ADDRESS',
    );
    assert.equal(literal.details.range, 'loopback');
    assert.equal(internal.connections, before);
  });
});

describe('openStream', () => {
  let main: Loopback;
  let fetcher: ConditionalFetcher;
  const DOC = `id\ttitle\timage_link\n${Array.from({ length: 2000 }, (_, i) => `p${i}\tT ${i}\thttp://x/${i}.jpg`).join('\n')}\n`;
  const LIMIT = 256 * 1024;
  /** Per path: resolves when the server sees that request's socket close; bytes written so far. */
  const closed = new Map<string, Promise<void>>();
  const written = new Map<string, number>();

  before(async () => {
    main = await serve((req, res) => {
      const path = req.url ?? '/';
      const socket: Socket = req.socket;
      // A reset by the client is how it gives up: the socket's 'error' is expected, its 'close' is the point.
      closed.set(path, new Promise((resolve) => socket.once('close', () => resolve())));
      written.set(path, 0);
      const pump = (chunk: Buffer, total: number) => {
        const go = () => {
          while (!res.destroyed && (written.get(path) ?? 0) < total) {
            written.set(path, (written.get(path) ?? 0) + chunk.length);
            if (!res.write(chunk)) {
              res.once('drain', go);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        go();
      };
      if (path === '/feed.tsv') {
        res.writeHead(200, {
          'content-type': 'text/tab-separated-values; charset=utf-8',
          etag: ETAG,
          'last-modified': LAST_MODIFIED,
        });
        res.end(DOC);
      } else if (path === '/moved') {
        res.writeHead(308, { location: '/feed.tsv' });
        res.end();
      } else if (path === '/untyped') {
        res.writeHead(200);
        res.end('x');
      } else if (path === '/declared-big') {
        res.writeHead(200, { 'content-type': 'text/csv', 'content-length': String(64 * 1024 * 1024) });
        res.write('id,title\n');
      } else if (path === '/endless' || path === '/abandoned' || path === '/big') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        pump(Buffer.alloc(64 * 1024, 0x61), 1024 * 1024 * 1024);
      } else if (path === '/stall-body') {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write('id,title\n1,a\n');
      } else if (path === '/stall-head') {
        // Never answers.
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: LIMITS,
      timeoutMs: 400,
      connectTimeoutMs: 1000,
      allowPrivate: true,
    });
  });

  after(async () => {
    await fetcher.close();
    await stop(main);
  });

  async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of body) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts);
  }

  test('GIVEN a feed behind a redirect THEN the stream has the body, the declared content type, the validators and the final URL', async () => {
    const s = await fetcher.openStream(`${main.origin}/moved`, { maxBytes: LIMIT });
    assert.equal(s.contentType, 'text/tab-separated-values; charset=utf-8');
    assert.equal(s.etag, ETAG);
    assert.equal(s.lastModified, LAST_MODIFIED);
    assert.equal(s.finalUrl, `${main.origin}/feed.tsv`);
    assert.equal((await readAll(s.body)).toString('utf8'), DOC);
    const untyped = await fetcher.openStream(`${main.origin}/untyped`);
    assert.equal(untyped.contentType, '');
    assert.equal(untyped.etag, undefined);
    assert.equal((await readAll(untyped.body)).toString(), 'x');
  });

  test('GIVEN a declared Content-Length over maxBytes THEN openStream itself fails with reason too-large', async () => {
    const err = await rejectsWith(
      fetcher.openStream(`${main.origin}/declared-big`, { maxBytes: LIMIT }),
      'FETCH_FAILED',
    );
    assert.equal(err.details.reason, 'too-large');
    assert.deepEqual([err.details.bytes, err.details.maxBytes], [64 * 1024 * 1024, LIMIT]);
    await within(closed.get('/declared-big') as Promise<void>, 'the refused connection closed');
  });

  test('GIVEN a chunked body that grows past maxBytes THEN reading fails with reason too-large and the server stops early', async () => {
    const s = await fetcher.openStream(`${main.origin}/big`, { maxBytes: LIMIT });
    const err = await rejectsWith(readAll(s.body), 'FETCH_FAILED');
    assert.equal(err.details.reason, 'too-large');
    assert.ok((err.details.bytes as number) > LIMIT);
    await within(closed.get('/big') as Promise<void>, 'the connection closed');
    const sent = written.get('/big') as number;
    assert.ok(sent < 64 * 1024 * 1024, `the server wrote ${sent} bytes of 1 GiB`);
  });

  test('GIVEN a server that never answers, or stalls in the body THEN FETCH_FAILED with reason timeout (head, then idle)', async () => {
    const head = await rejectsWith(fetcher.openStream(`${main.origin}/stall-head`, { timeoutMs: 300 }), 'FETCH_FAILED');
    assert.equal(head.details.reason, 'timeout');
    const s = await fetcher.openStream(`${main.origin}/stall-body`, { timeoutMs: 300 });
    const parts: string[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const chunk of s.body) parts.push(Buffer.from(chunk).toString());
      })(),
      'FETCH_FAILED',
    );
    assert.equal(err.details.reason, 'timeout');
    assert.equal(parts.join(''), 'id,title\n1,a\n', 'what came before the stall was delivered');
    await within(closed.get('/stall-body') as Promise<void>, 'the stalled connection closed');
  });

  test('GIVEN a reader that stops after the first chunk THEN the connection is closed (the server sees its socket close)', async () => {
    const s = await fetcher.openStream(`${main.origin}/endless`);
    let chunks = 0;
    for await (const chunk of s.body) {
      assert.ok(chunk.length > 0);
      chunks++;
      break;
    }
    assert.equal(chunks, 1);
    await within(closed.get('/endless') as Promise<void>, 'the server saw the socket close after the early return');
    assert.ok((written.get('/endless') as number) < 1024 * 1024 * 1024);
  });

  test('GIVEN a stream given up without reading THEN destroy() closes the connection', async () => {
    const s = await fetcher.openStream(`${main.origin}/abandoned`);
    const body = s.body as AsyncIterable<Uint8Array> & { destroy?: () => void };
    assert.equal(typeof body.destroy, 'function');
    body.destroy?.();
    await within(closed.get('/abandoned') as Promise<void>, 'the server saw the socket close after destroy()');
  });
});
