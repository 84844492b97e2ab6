/**
 * GET /readyz: readiness beside /healthz's liveness. Without a probe it reports the catalog and
 * is ready; with one (the runtime's: database, Redis, index) it is 200 while every check is ok and
 * 503 naming the failed check otherwise. Like /healthz it answers any Host, and with the page off.
 * The Redis check here pings a real private Redis that the test stops and starts.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Readiness, readinessProbe } from '@lookalike/core';
import { closeRedis, createRedisClient, type Redis } from '@lookalike/redis';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let redisServer: RedisServer;
let redis: Redis;
const servers: HttpServer[] = [];

before(async () => {
  stack = await createTestStack({ catalogSize: 8 });
  redisServer = await startRedis();
  redis = createRedisClient(redisServer.url, { maxRetriesPerRequest: 1 });
});

after(async () => {
  for (const s of servers) await s.close();
  if (redis !== undefined) await closeRedis(redis);
  await redisServer?.stop();
  await stack?.close();
});

async function serve(options: Partial<Parameters<typeof createHttpServer>[0]> = {}): Promise<number> {
  const http = createHttpServer({ service: stack.service, ...options });
  servers.push(http);
  return (await http.listen(0, '127.0.0.1')).port;
}

/** GET /readyz with this Host header. */
function readyz(port: number, host = `127.0.0.1:${port}`): Promise<{ status: number; body: Readiness }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/readyz', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.equal(res.headers['cache-control'], 'no-store');
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Readiness });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /readyz', () => {
  test('GIVEN no probe THEN ready, with the catalog size as its check, for any Host and with the page off', async () => {
    const port = await serve();
    const { status, body } = await readyz(port);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      ready: true,
      checks: { catalog: { ok: true, detail: `${stack.service.status().catalogSize} items` } },
    });
    assert.equal((await readyz(port, 'rebind.attacker.example')).status, 200, 'exempt from the Host guard');
    const off = await serve({ localPage: false });
    assert.equal((await readyz(off)).status, 200, 'served with LOCAL_PAGE=off');
  });

  test('GIVEN a probe with a Redis check THEN 200 while Redis answers, 503 naming it while down, 200 once back', async () => {
    const pings = async () => ({ ok: (await redis.ping()) === 'PONG' });
    const port = await serve({
      readiness: readinessProbe(
        {
          redis: pings,
          index: () => ({ ok: true, detail: `version 7, ${stack.service.status().catalogSize} items` }),
        },
        { timeoutMs: 1000 },
      ),
    });
    const up = await readyz(port);
    assert.equal(up.status, 200);
    assert.deepEqual(up.body.checks.redis, { ok: true });
    assert.match(up.body.checks.index?.detail ?? '', /^version 7, \d+ items$/);

    await redisServer.down();
    const down = await readyz(port);
    assert.equal(down.status, 503);
    assert.equal(down.body.ready, false);
    assert.equal(down.body.checks.redis?.ok, false);
    assert.ok((down.body.checks.redis?.detail ?? '').length > 0, 'the failure is described');
    assert.equal(down.body.checks.index?.ok, true, 'the other checks are still reported');
    // Liveness is not readiness: /healthz still answers.
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);

    await redisServer.up();
    const deadline = Date.now() + 60_000;
    let again = await readyz(port);
    while (again.status !== 200) {
      if (Date.now() > deadline) throw new Error(`/readyz not ready again within 60 s: ${JSON.stringify(again.body)}`);
      await new Promise((r) => setTimeout(r, 50));
      again = await readyz(port);
    }
    assert.deepEqual(again.body.checks.redis, { ok: true });
  });

  test('GIVEN a check that throws or never answers THEN it is not ok, with the reason, and the probe still answers', async () => {
    const port = await serve({
      readiness: readinessProbe(
        {
          db: () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          },
          slow: () => new Promise(() => {}),
          fine: () => ({ ok: true }),
        },
        { timeoutMs: 100 },
      ),
    });
    const { status, body } = await readyz(port);
    assert.equal(status, 503);
    assert.deepEqual(body.checks.db, { ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:5432' });
    assert.equal(body.checks.slow?.ok, false);
    assert.match(body.checks.slow?.detail ?? '', /no answer within 100 ms/);
    assert.deepEqual(body.checks.fine, { ok: true });
  });
});
