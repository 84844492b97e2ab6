/**
 * State shared by replicas through a private Redis: each "replica" is its own ioredis client.
 * Rate limits, de-duplication, leases and progress agree across clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRateLimiter } from '@lookalike/core';
import {
  acquireLease,
  createEventDeduper,
  createSharedRateLimiter,
  publishProgress,
  type Redis,
  readProgress,
  subscribeProgress,
} from '@lookalike/redis';
import { until } from '../helpers/gate.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { eventually, recordingLogger, settles, startReplicas, stopReplicas } from './fixtures/support.js';

let server: RedisServer;
let a: Redis;
let b: Redis;

before(async () => {
  ({ server, a, b } = await startReplicas());
});

after(() => stopReplicas({ server, a, b }));

describe('shared rate limiter', () => {
  test('a user over the limit on replica A is limited on replica B', async () => {
    const onA = createSharedRateLimiter(a, { ratePerMinute: 3, prefix: 't1:' });
    const onB = createSharedRateLimiter(b, { ratePerMinute: 3, prefix: 't1:' });
    const first = await onA.take('u1');
    assert.deepEqual(first, { allowed: true, remaining: 2, retryAfterMs: 0 });
    assert.equal((await onA.take('u1')).allowed, true);
    assert.equal((await onA.take('u1')).allowed, true);
    const overOnA = await onA.take('u1');
    assert.equal(overOnA.allowed, false);
    const overOnB = await onB.take('u1');
    assert.equal(overOnB.allowed, false, 'the bucket is shared');
    assert.equal(overOnB.remaining, 0);
    // One token comes back every 20 s at 3 per minute.
    assert.ok(overOnB.retryAfterMs > 0 && overOnB.retryAfterMs <= 20_000, `retryAfterMs ${overOnB.retryAfterMs}`);
    // Another user has a bucket of their own.
    assert.equal((await onB.take('u2')).allowed, true);
  });

  test('refills continuously, exactly like core’s in-memory limiter (same clock, same decisions)', async () => {
    let t = 1_000_000;
    const now = () => t;
    const shared = createSharedRateLimiter(a, { ratePerMinute: 4, prefix: 't2:', now });
    const local = createRateLimiter({ ratePerMinute: 4, now });
    const steps = [0, 0, 0, 0, 0, 1_000, 14_000, 1, 15_000, 15_000, 60_000, 0, 0, 0, 0, 0, 7_500, 7_500];
    for (const [i, dt] of steps.entries()) {
      t += dt;
      const got = await shared.take('u');
      const want = local.take('u');
      assert.deepEqual(got, want, `step ${i} (+${dt} ms)`);
    }
  });

  test('concurrent takes from two clients never hand out more than the bucket holds', async () => {
    const onA = createSharedRateLimiter(a, { ratePerMinute: 10, prefix: 't3:' });
    const onB = createSharedRateLimiter(b, { ratePerMinute: 10, prefix: 't3:' });
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? onA : onB).take('u')));
    assert.equal(decisions.filter((d) => d.allowed).length, 10);
  });

  test('the bucket’s key expires when the bucket would be full again', async () => {
    let t = 5_000;
    const limiter = createSharedRateLimiter(a, { ratePerMinute: 6, prefix: 't4:', now: () => t });
    await limiter.take('u');
    const pttl = await a.pttl('t4:rate:u');
    // One token short of full: back in 10 s.
    assert.ok(pttl > 0 && pttl <= 10_000, `pttl ${pttl}`);
    t += 1;
    assert.equal((await limiter.take('u')).remaining, 4);
  });
});

describe('event deduper', () => {
  const options = { ttlSeconds: 600, processingTtlSeconds: 30 };

  test('one claim across two clients; an answered event stays claimed for the full ttl', async () => {
    const onA = createEventDeduper(a, { ...options, prefix: 'd1:' });
    const onB = createEventDeduper(b, { ...options, prefix: 'd1:' });
    const answers = await Promise.all([onA.claim('Ev1'), onB.claim('Ev1'), onA.claim('Ev1')]);
    assert.equal(answers.filter(Boolean).length, 1);
    // Claimed, not answered yet: only the processing ttl.
    const claimedTtl = await a.ttl('d1:dedupe:Ev1');
    assert.ok(claimedTtl > 0 && claimedTtl <= 30, `ttl ${claimedTtl}`);
    const winner = answers[1] === true ? onB : onA;
    await winner.done('Ev1');
    const answeredTtl = await a.ttl('d1:dedupe:Ev1');
    assert.ok(answeredTtl > 30 && answeredTtl <= 600, `ttl ${answeredTtl}`);
    assert.equal(await onA.claim('Ev1'), false);
    assert.equal(await onB.claim('Ev1'), false);
    assert.equal(await onB.claim('Ev2'), true);
  });

  test('a failed answer frees the event at once: the retry on the other replica is answered', async () => {
    const onA = createEventDeduper(a, { ...options, prefix: 'd2:' });
    const onB = createEventDeduper(b, { ...options, prefix: 'd2:' });
    assert.equal(await onA.claim('Ev'), true);
    assert.equal(await onB.claim('Ev'), false, 'claimed by A while it answers');
    await onA.failed('Ev');
    assert.equal(await a.exists('d2:dedupe:Ev'), 0);
    assert.equal(await onB.claim('Ev'), true, 'the retry is answered');
    await onB.done('Ev');
    assert.equal(await onA.claim('Ev'), false);
  });

  test('a replica that crashed while answering holds the event only for the processing ttl', async () => {
    const onA = createEventDeduper(a, { ...options, prefix: 'd3:' });
    const onB = createEventDeduper(b, { ...options, prefix: 'd3:' });
    assert.equal(await onA.claim('Ev'), true);
    assert.equal(await onB.claim('Ev'), false);
    // A crashes: neither done nor failed. Its processing ttl runs out.
    await b.pexpire('d3:dedupe:Ev', 1);
    await eventually(async () => (await b.exists('d3:dedupe:Ev')) === 0, 'the claim to expire');
    assert.equal(await onB.claim('Ev'), true, 'the retry is answered');
    const bClaim = await b.get('d3:dedupe:Ev');
    // A late word from A never touches B's claim.
    await onA.failed('Ev');
    assert.equal(await b.get('d3:dedupe:Ev'), bClaim);
    await onA.done('Ev');
    assert.equal(await b.get('d3:dedupe:Ev'), bClaim);
    assert.ok((await b.ttl('d3:dedupe:Ev')) <= 30);
    await onB.done('Ev');
    assert.ok((await b.ttl('d3:dedupe:Ev')) > 30);
  });

  test('an answer recorded after its claim ran out still keeps retries away', async () => {
    const onA = createEventDeduper(a, { ...options, prefix: 'd4:' });
    const onB = createEventDeduper(b, { ...options, prefix: 'd4:' });
    assert.equal(await onA.claim('Ev'), true);
    await b.pexpire('d4:dedupe:Ev', 1); // a slow answer outlived the processing ttl
    await eventually(async () => (await b.exists('d4:dedupe:Ev')) === 0, 'the claim to expire');
    await onA.done('Ev');
    assert.ok((await b.ttl('d4:dedupe:Ev')) > 30);
    assert.equal(await onB.claim('Ev'), false);
  });

  test('rejects a processing ttl longer than the ttl, and ttls that are not whole seconds', () => {
    assert.throws(() => createEventDeduper(a, { ttlSeconds: 10, processingTtlSeconds: 11 }), RangeError);
    assert.throws(() => createEventDeduper(a, { processingTtlSeconds: 0 }), RangeError);
    assert.throws(() => createEventDeduper(a, { ttlSeconds: 1.5 }), RangeError);
  });
});

// Lease tests never race a timer against the machine's load: leases have a long ttl, expiry is
// driven from the test (PEXPIRE, CLIENT PAUSE), and heartbeats and deadlines run on mocked timers
// (with the lease's clock on the mocked Date), advanced by `tick`.
const MOCKED = { apis: ['setTimeout', 'setInterval', 'Date'] as ('setTimeout' | 'setInterval' | 'Date')[], now: 0 };
const mockedNow = () => Date.now();

describe('lease', () => {
  test('one holder at a time; release frees it for the other client', async () => {
    const first = await acquireLease(a, 'reindex', { ttlMs: 60_000, prefix: 'l1:' });
    assert.equal(first.held, true);
    const second = await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'l1:' });
    assert.equal(second.held, false);
    assert.equal(second.remainingMs, 0);
    await second.release(); // not held: does nothing
    assert.equal(await a.get('l1:lease:reindex'), first.token);
    await first.release();
    await first.release();
    assert.equal(first.remainingMs, 0);
    assert.equal(await a.exists('l1:lease:reindex'), 0);
    const third = await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'l1:' });
    assert.equal(third.held, true);
    await third.release();
  });

  test('a live holder’s heartbeat keeps the lease past its ttl', async (t) => {
    t.mock.timers.enable(MOCKED);
    const lease = await acquireLease(a, 'hb', { ttlMs: 60_000, heartbeatMs: 20_000, prefix: 'l2:', now: mockedNow });
    assert.equal(lease.held, true);
    // Four heartbeats span 80 s: without them the 60 s ttl would have run out.
    for (let i = 1; i <= 4; i++) {
      await b.pexpire('l2:lease:hb', 30_000); // as if half the ttl had passed since the last renewal
      t.mock.timers.tick(20_000);
      await eventually(() => lease.renewals === i, `heartbeat ${i}`);
      const pttl = await b.pttl('l2:lease:hb');
      assert.ok(pttl > 30_000, `renewed to the full ttl (pttl ${pttl})`);
    }
    assert.equal(await settles(lease.lost), false);
    assert.equal(await b.get('l2:lease:hb'), lease.token);
    assert.equal((await acquireLease(b, 'hb', { ttlMs: 60_000, prefix: 'l2:' })).held, false);
    await lease.release();
    assert.equal(await b.exists('l2:lease:hb'), 0);
  });

  test('a holder whose lease expired and was taken learns it, and cannot free the new holder’s', async (t) => {
    t.mock.timers.enable(MOCKED);
    const options = { ttlMs: 60_000, heartbeatMs: 20_000, prefix: 'l3:', now: mockedNow };
    const stale = await acquireLease(a, 'job', options);
    assert.equal(stale.held, true);
    await b.pexpire('l3:lease:job', 1); // as if its ttl ran out while it was stalled
    await eventually(async () => (await b.exists('l3:lease:job')) === 0, 'the key to expire');
    const fresh = await acquireLease(b, 'job', options);
    assert.equal(fresh.held, true);
    assert.equal(await settles(stale.lost), false, 'it learns it on its next heartbeat');
    t.mock.timers.tick(20_000);
    assert.equal(await stale.lost, 'taken');
    assert.equal(stale.remainingMs, 0);
    await stale.release();
    assert.equal(await a.get('l3:lease:job'), fresh.token, 'the stale holder did not delete it');
    await fresh.release();
  });

  test('with no renewal confirmed, the holder gives the lease up before the key can expire', async (t) => {
    t.mock.timers.enable(MOCKED);
    const lease = await acquireLease(a, 'paused', {
      ttlMs: 60_000,
      heartbeatMs: 20_000,
      safetyMarginMs: 5_000,
      prefix: 'l4:',
      now: mockedNow,
    });
    assert.equal(lease.held, true);
    assert.equal(lease.remainingMs, 55_000);
    t.mock.timers.tick(20_000);
    await eventually(() => lease.renewals === 1, 'the first heartbeat');
    // Renewal sent at 20 s: the key lasts until 80 s at the earliest; the holder stops at 75 s.
    assert.equal(lease.remainingMs, 55_000);
    // Writes (scripts included) wait while clients are paused: the next heartbeats get no answer.
    await b.call('CLIENT', 'PAUSE', '600000', 'WRITE');
    try {
      t.mock.timers.tick(20_000); // 40 s: a heartbeat is sent, unanswered
      t.mock.timers.tick(34_999); // 74.999 s
      assert.equal(await settles(lease.lost), false);
      assert.equal(lease.remainingMs, 1);
      t.mock.timers.tick(1); // 75 s
      assert.equal(await lease.lost, 'unconfirmed');
      assert.equal(lease.remainingMs, 0);
      assert.equal(await b.get('l4:lease:paused'), lease.token, 'given up while the key was still ours');
    } finally {
      await b.call('CLIENT', 'UNPAUSE');
    }
    await lease.release();
    assert.equal(await a.exists('l4:lease:paused'), 0, 'release still deletes a key that was ours');
  });

  test('rejects a heartbeat that is not shorter than the ttl less the safety margin', async () => {
    await assert.rejects(acquireLease(a, 'x', { ttlMs: 100, heartbeatMs: 100 }), RangeError);
    await assert.rejects(acquireLease(a, 'x', { ttlMs: 100, heartbeatMs: 90, safetyMarginMs: 10 }), RangeError);
    await assert.rejects(acquireLease(a, 'x', { ttlMs: 100, safetyMarginMs: 100 }), RangeError);
    assert.equal(await a.exists('lookalike:lease:x'), 0);
  });
});

describe('progress', () => {
  test('published on one client: read and received on the other; the stored value has a ttl', async () => {
    const seen: unknown[] = [];
    const sub = await subscribeProgress(b, 'catalog-1', (v) => seen.push(v), { prefix: 'p1:' });
    assert.equal(await readProgress(b, 'catalog-1', { prefix: 'p1:' }), undefined);
    await publishProgress(a, 'catalog-1', { done: 3, total: 10 }, { prefix: 'p1:', ttlSeconds: 30 });
    await publishProgress(a, 'catalog-1', { done: 4, total: 10 }, { prefix: 'p1:', ttlSeconds: 30 });
    await publishProgress(a, 'other', { done: 1 }, { prefix: 'p1:' });
    assert.deepEqual(await readProgress(b, 'catalog-1', { prefix: 'p1:' }), { done: 4, total: 10 });
    await until(() => seen.length >= 2, 'two updates');
    assert.deepEqual(seen, [
      { done: 3, total: 10 },
      { done: 4, total: 10 },
    ]);
    const ttl = await b.ttl('p1:progress:catalog-1');
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    await sub.close();
  });

  test('a callback that throws or rejects is logged, and later updates still reach it', async () => {
    const log = recordingLogger();
    const seen: number[] = [];
    const sub = await subscribeProgress<{ n: number }>(
      b,
      'flaky',
      (v) => {
        seen.push(v.n);
        if (v.n === 1) throw new Error('render failed');
        if (v.n === 2) return Promise.reject(new Error('edit failed'));
        return undefined;
      },
      { prefix: 'p2:', logger: log },
    );
    await publishProgress(a, 'flaky', { n: 1 }, { prefix: 'p2:' });
    await publishProgress(a, 'flaky', { n: 2 }, { prefix: 'p2:' });
    await a.publish('p2:progress-updates:flaky', 'not json');
    await publishProgress(a, 'flaky', { n: 3 }, { prefix: 'p2:' });
    const errors = () => log.entries.filter((e) => e.level === 'error');
    await until(() => seen.length >= 3 && errors().length >= 2, 'three updates and two logged failures');
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(
      errors().map((e) => [e.msg, ((e.obj as { err: Error }).err as Error).message, e.bindings.progress]),
      [
        ['progress callback failed', 'render failed', 'flaky'],
        ['progress callback failed', 'edit failed', 'flaky'],
      ],
    );
    assert.deepEqual(
      log.entries.filter((e) => e.level === 'warn').map((e) => e.msg),
      ['progress update is not JSON: ignored'],
    );
    await sub.close();
  });
});
