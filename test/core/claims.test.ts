/**
 * "Answered once": the in-memory claims (the embedded default), and Redis claims shared by two
 * replicas that fall back to local ones while Redis is down (one warning per outage).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryClaims, type EventClaims, withLocalClaims } from '@lookalike/core';
import { closeRedis, createEventDeduper, createRedisClient, type Redis } from '@lookalike/redis';
import { recordingLogger } from '../helpers/recording-logger.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

describe('memory claims', () => {
  test('GIVEN a claimed key THEN a second claim is refused while it is answered and after done', async () => {
    const claims = createMemoryClaims();
    assert.equal(await claims.claim('slack:C1:1.0'), true);
    assert.equal(await claims.claim('slack:C1:1.0'), false, 'being answered');
    await claims.done('slack:C1:1.0');
    assert.equal(await claims.claim('slack:C1:1.0'), false, 'answered');
    assert.equal(await claims.claim('slack:C1:2.0'), true, 'another key');
  });

  test('GIVEN a failed answer THEN the claim is freed, so a retry is answered; done is never undone by failed', async () => {
    const claims = createMemoryClaims();
    assert.equal(await claims.claim('k'), true);
    await claims.failed('k');
    assert.equal(await claims.claim('k'), true, 'the retry claims it');
    await claims.done('k');
    await claims.failed('k');
    assert.equal(await claims.claim('k'), false);
  });

  test('GIVEN the ttls THEN an answered key is forgotten after ttlMs, an unsettled claim after processingTtlMs', async () => {
    let now = 0;
    const claims = createMemoryClaims({ ttlMs: 1000, processingTtlMs: 100, now: () => now });
    await claims.claim('answered');
    await claims.done('answered');
    await claims.claim('stuck');
    now = 150;
    assert.equal(await claims.claim('stuck'), true, 'a claim never settled runs out');
    assert.equal(await claims.claim('answered'), false);
    now = 1200;
    assert.equal(await claims.claim('answered'), true, 'forgotten after the ttl');
  });

  test('GIVEN more keys than maxKeys THEN the oldest are dropped first', async () => {
    const claims = createMemoryClaims({ maxKeys: 2 });
    for (const k of ['a', 'b', 'c']) {
      await claims.claim(k);
      await claims.done(k);
    }
    assert.equal(await claims.claim('a'), true, 'the oldest was dropped');
    assert.equal(await claims.claim('c'), false);
  });
});

describe('Redis claims shared by two replicas, with a local fallback', () => {
  let server: RedisServer;
  let redisA: Redis;
  let redisB: Redis;
  const logA = recordingLogger();
  let a: EventClaims;
  let b: EventClaims;

  before(async () => {
    server = await startRedis();
    redisA = createRedisClient(server.url, { maxRetriesPerRequest: 1 });
    redisB = createRedisClient(server.url, { maxRetriesPerRequest: 1 });
    a = withLocalClaims(createEventDeduper(redisA, { prefix: 'c:' }), { logger: logA, name: 'Redis' });
    b = withLocalClaims(createEventDeduper(redisB, { prefix: 'c:' }), { name: 'Redis' });
  });

  after(async () => {
    await Promise.all([redisA && closeRedis(redisA), redisB && closeRedis(redisB)]);
    await server?.stop();
  });

  test('GIVEN an event claimed on replica A THEN B does not claim it; a failure on A lets B answer the retry', async () => {
    assert.equal(await a.claim('slack:C1:10.0'), true);
    assert.equal(await b.claim('slack:C1:10.0'), false);
    await a.done('slack:C1:10.0');
    assert.equal(await b.claim('slack:C1:10.0'), false, 'answered');

    assert.equal(await a.claim('slack:C1:11.0'), true);
    await a.failed('slack:C1:11.0');
    assert.equal(await b.claim('slack:C1:11.0'), true, 'the retry reaches B and is answered');
  });

  test('GIVEN Redis down THEN claims are local (one warning); back up, they are shared again', async () => {
    await server.down();
    assert.equal(await a.claim('slack:C1:12.0'), true, 'answered rather than dropped');
    assert.equal(await a.claim('slack:C1:12.0'), false, 'still answered once by this replica');
    await a.done('slack:C1:12.0');
    assert.equal(await a.claim('slack:C1:13.0'), true);
    await a.failed('slack:C1:13.0');
    const warnings = logA.entries.filter((e) => e.level === 'warn');
    assert.equal(warnings.length, 1, logA.lines().join('\n'));
    assert.match(warnings[0]?.msg ?? '', /Redis failed/);

    await server.up();
    const deadline = Date.now() + 60_000;
    while (redisA.status !== 'ready' || redisB.status !== 'ready') {
      if (Date.now() > deadline) throw new Error('Redis clients did not reconnect within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await a.claim('slack:C1:14.0'), true);
    assert.equal(await b.claim('slack:C1:14.0'), false, 'shared again');
    await logA.waitFor((e) => e.level === 'info' && /answers again/.test(e.msg ?? ''));
  });
});
