/**
 * The attachment fetcher against loopback HTTP servers: allowlist, redirects, sniffing,
 * timeouts, byte limit, auth headers.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type ImageFetcher, USER_MESSAGES } from '@lookalike/core';
import { createFetcher } from '@lookalike/fetch';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { listenOnLoopback } from '../helpers/net.js';

interface Loopback {
  server: Server;
  port: number;
  hits: { path: string; headers: IncomingHttpHeaders }[];
}

async function serve(handler: RequestListener): Promise<Loopback> {
  const hits: Loopback['hits'] = [];
  const server = createServer((req, res) => {
    hits.push({ path: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  return { server, port: await listenOnLoopback(server), hits };
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
