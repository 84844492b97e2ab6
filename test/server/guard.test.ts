/**
 * The page's guards on the real stack: the Host check (DNS rebinding), the Origin check on
 * state-changing requests (cross-site uploads), malformed % escapes, and which routes are exempt.
 * Requests go through node:http so the Host and Origin headers are exactly what a browser (or an
 * attacker's page) would send.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { createHttpServer, type HttpServer, type HttpServerOptions } from '@lookalike/server';
import { createTestStack, type TestStack } from '../helpers/stack.js';

interface Reply {
  status: number;
  text: string;
  /** The error code of a JSON error body, if any. */
  code: string | undefined;
  message: string | undefined;
}

interface Sent {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

/** One request to 127.0.0.1:port with exactly these headers (Host too) and a raw path. */
function send(port: number, path: string, sent: Sent = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: sent.method ?? 'GET',
        headers: { host: `127.0.0.1:${port}`, ...(sent.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let code: string | undefined;
          let message: string | undefined;
          if ((res.headers['content-type'] ?? '').startsWith('application/json')) {
            const body = JSON.parse(text) as { error?: { code: string; message: string } };
            code = body.error?.code;
            message = body.error?.message;
          }
          resolve({ status: res.statusCode ?? 0, text, code, message });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(sent.body);
  });
}

/** A raw request head (node:http's client always sends a Host); answers the whole reply. */
function sendRaw(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${head}\r\n\r\n`));
    let data = '';
    s.on('data', (c) => {
      data += c.toString();
    });
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

function assertRefused(
  reply: Reply,
  status: number,
  code: 'HOST_MISDIRECTED' | 'ORIGIN_FORBIDDEN' | 'BAD_REQUEST',
  what: string,
) {
  assert.equal(reply.status, status, `${what}: got ${reply.status} ${reply.text.slice(0, 200)}`);
  assert.equal(reply.code, code, what);
  assert.equal(reply.message, USER_MESSAGES[code], what);
  assert.ok(!reply.text.includes('    at '), `${what}: no stack`);
}

describe('page guards: Host, Origin, % escapes', () => {
  let stack: TestStack;
  let photo: Buffer;
  const servers: HttpServer[] = [];
  let port: number;
  const mountedCalls: string[] = [];

  async function serve(options: Omit<HttpServerOptions, 'service'>, listenHost = '127.0.0.1'): Promise<number> {
    const http = createHttpServer({ service: stack.service, ...options });
    servers.push(http);
    return (await http.listen(0, listenHost)).port;
  }

  const upload = (headers: Record<string, string> = {}): Sent => ({
    method: 'POST',
    headers: { 'content-type': 'image/jpeg', ...headers },
    body: photo,
  });

  before(async () => {
    stack = await createTestStack({ catalogSize: 8 });
    const item = stack.items.find((i) => i.path.endsWith('.jpg'));
    assert.ok(item !== undefined);
    photo = await readFile(item.path);
    port = await serve({
      localPage: true,
      host: '127.0.0.1',
      publicHosts: ['Lookalike.Example.COM:8443', '2001:db8::5'],
      metrics: { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => 'up 1\n' },
      routes: [
        {
          method: 'POST',
          path: '/slack/events',
          handler: (req, res) => {
            mountedCalls.push(req.headers.host ?? '');
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"ok":true}');
          },
        },
      ],
    });
  });

  after(async () => {
    for (const s of servers) await s.close();
    await stack?.close();
  });

  test('GIVEN a foreign Host header THEN the page and every API route answer 421 HOST_MISDIRECTED', async () => {
    const hosts = [
      'rebind.attacker.example',
      `rebind.attacker.example:${port}`,
      'localhost.attacker.example',
      '127.0.0.1.nip.io',
      'evil.example@localhost',
      `localhost:${port}/x`,
      'lookalike.example.com.attacker.example',
      '[::2]',
    ];
    const routes: [string, Sent][] = [
      ['/', {}],
      ['/api/status', {}],
      ['/api/facets', {}],
      ['/api/collage/abc', {}],
      ['/api/items/x/image?request=abc', {}],
      ['/api/similar', upload()],
    ];
    for (const host of hosts) {
      for (const [path, sent] of routes) {
        const reply = await send(port, path, { ...sent, headers: { ...(sent.headers ?? {}), host } });
        assertRefused(reply, 421, 'HOST_MISDIRECTED', `Host ${JSON.stringify(host)} ${path}`);
      }
    }
    // HTTP/1.0 may leave Host out (an HTTP/1.1 request without one is refused by node:http).
    for (const head of ['GET /api/status HTTP/1.0', 'GET /api/status HTTP/1.1\r\nHost: \r\nConnection: close']) {
      const reply = await sendRaw(port, head);
      assert.match(reply, /^HTTP\/1\.1 421 /, `no or empty Host: ${reply.slice(0, 80)}`);
      assert.match(reply, /"HOST_MISDIRECTED"/);
    }
  });

  test('GIVEN the configured host, a loopback name or a public host (any port, any case) THEN answered', async () => {
    const hosts = [
      `127.0.0.1:${port}`,
      '127.0.0.1',
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `localhost.:${port}`,
      `[::1]:${port}`,
      '[0:0:0:0:0:0:0:1]',
      'lookalike.example.com',
      'LOOKALIKE.example.com:443',
      '[2001:db8:0:0::5]:8080',
    ];
    for (const host of hosts) {
      const reply = await send(port, '/api/status', { headers: { host } });
      assert.equal(reply.status, 200, `Host ${host}: ${reply.text.slice(0, 200)}`);
      assert.equal((JSON.parse(reply.text) as { catalogSize: number }).catalogSize, 8);
    }
    const page = await send(port, '/', { headers: { host: `localhost:${port}` } });
    assert.equal(page.status, 200);
    assert.match(page.text, /type="file"/);
  });

  test('GIVEN /healthz, /metrics and a mounted route (Slack signs its events) THEN they answer any Host', async () => {
    const host = 'pod-10-0-0-7.cluster.example:9100';
    const health = await send(port, '/healthz', { headers: { host } });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.text), { ok: true, catalogSize: 8 });
    const metrics = await send(port, '/metrics', { headers: { host } });
    assert.equal(metrics.status, 200);
    assert.equal(metrics.text, 'up 1\n');
    const slack = await send(port, '/slack/events', {
      method: 'POST',
      headers: { host: 'lookalike.public.example', 'content-type': 'application/json' },
      body: Buffer.from('{}'),
    });
    assert.equal(slack.status, 200);
    assert.deepEqual(mountedCalls, ['lookalike.public.example']);
  });

  test('GIVEN HOST 0.0.0.0 or :: THEN the machine interface addresses are accepted and other names are not', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const p = await serve({ host, interfaceAddresses: () => ['192.0.2.77', '[fd00::77]'] });
      for (const ok of [`192.0.2.77:${p}`, '[fd00:0::77]', `localhost:${p}`, `127.0.0.1:${p}`]) {
        assert.equal((await send(p, '/api/status', { headers: { host: ok } })).status, 200, `${host}: Host ${ok}`);
      }
      for (const bad of ['192.0.2.78', '[fd00::78]', 'rebind.attacker.example', '0.0.0.0', '[::]']) {
        assertRefused(
          await send(p, '/api/status', { headers: { host: bad } }),
          421,
          'HOST_MISDIRECTED',
          `${host}: ${bad}`,
        );
      }
    }
    // Without `host`, the listen host is the configured one; the real interface list is read.
    const wild = await serve({}, '0.0.0.0');
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
    assert.ok(addresses.length > 0);
    for (const address of addresses) {
      const host = address.includes(':') ? `[${address}]:${wild}` : `${address}:${wild}`;
      assert.equal((await send(wild, '/api/status', { headers: { host } })).status, 200, `Host ${host}`);
    }
    assertRefused(
      await send(wild, '/api/status', { headers: { host: 'rebind.attacker.example' } }),
      421,
      'HOST_MISDIRECTED',
      'wildcard listen, foreign name',
    );
    // A specific listen host without `host` accepts loopback names only besides itself.
    const specific = await serve({}, '127.0.0.1');
    assertRefused(
      await send(specific, '/api/status', { headers: { host: '192.0.2.77' } }),
      421,
      'HOST_MISDIRECTED',
      'specific listen host, other address',
    );
  });

  test('GIVEN a state-changing request from another origin THEN 403 ORIGIN_FORBIDDEN', async () => {
    const origins = [
      'http://attacker.example',
      'null',
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      `http://127.0.0.1:${port}.attacker.example`,
      'file://',
      'not a url',
    ];
    for (const origin of origins) {
      assertRefused(await send(port, '/api/similar', upload({ origin })), 403, 'ORIGIN_FORBIDDEN', `Origin ${origin}`);
    }
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      assertRefused(
        await send(port, '/api/similar', { method, headers: { origin: 'http://attacker.example' } }),
        403,
        'ORIGIN_FORBIDDEN',
        method,
      );
    }
    // A proxy in front says the client used https; an http Origin is then another origin.
    assertRefused(
      await send(
        port,
        '/api/similar',
        upload({ host: 'lookalike.example.com', origin: 'http://lookalike.example.com', 'x-forwarded-proto': 'https' }),
      ),
      403,
      'ORIGIN_FORBIDDEN',
      'http Origin behind an https proxy',
    );
  });

  test('GIVEN a same-origin or Origin-less upload, or a cross-origin GET THEN answered', async () => {
    const cases: [string, Record<string, string>][] = [
      ['same origin', { origin: `http://127.0.0.1:${port}` }],
      ['same origin, localhost', { host: `localhost:${port}`, origin: `http://LOCALHOST:${port}` }],
      ['no Origin (curl, scripts)', {}],
      [
        'public host behind a TLS proxy',
        { host: 'lookalike.example.com', origin: 'https://lookalike.example.com', 'x-forwarded-proto': 'https' },
      ],
      [
        'public host with its port',
        { host: 'lookalike.example.com:8443', origin: 'http://lookalike.example.com:8443' },
      ],
    ];
    for (const [what, headers] of cases) {
      const reply = await send(port, '/api/similar', upload(headers));
      assert.equal(reply.status, 200, `${what}: ${reply.text.slice(0, 200)}`);
      assert.equal((JSON.parse(reply.text) as { results: unknown[] }).results.length, 6, what);
    }
    // Reading is guarded by Host (a browser doesn't hand another site the answer without CORS).
    const status = await send(port, '/api/status', { headers: { origin: 'http://attacker.example' } });
    assert.equal(status.status, 200);
  });

  test('GIVEN malformed % escapes anywhere in the path THEN 400 BAD_REQUEST, never 500', async () => {
    const paths = [
      '/api/items/%zz/image',
      '/api/items/%ff/image?request=abc',
      '/api/collage/%E0%A4',
      '/api/collage/%',
      '/%',
      '/api/status%2',
      '/healthz%zz',
      '/slack/events%zz',
      '/nope/%C0%AF',
    ];
    for (const path of paths) {
      assertRefused(await send(port, path), 400, 'BAD_REQUEST', path);
      assertRefused(await send(port, path, upload()), 400, 'BAD_REQUEST', `POST ${path}`);
    }
    // Well-formed escapes are decoded as before.
    const collage = await send(port, '/api/collage/%61%62%63');
    assert.equal(collage.status, 404);
    assert.equal(collage.code, 'NOT_FOUND');
    assert.equal((await send(port, '/healthz')).status, 200, 'still up');
  });
});
