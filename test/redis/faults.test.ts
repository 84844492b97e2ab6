/**
 * Faults around the shared state: a lease holder killed with SIGKILL frees the lease after its
 * ttl, a Redis restart is survived by clients that reconnect on their own, and an outage is
 * logged once per distinct error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import {
  acquireLease,
  closeRedis,
  createEventDeduper,
  createRedisClient,
  createSharedRateLimiter,
  publishProgress,
  type Redis,
  readProgress,
  subscribeProgress,
} from '@lookalike/redis';
import { REPO_ROOT } from '../helpers/process.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { eventually, recordingLogger, startReplicas, stopReplicas } from './fixtures/support.js';

let server: RedisServer;
let a: Redis;
let b: Redis;

before(async () => {
  ({ server, a, b } = await startReplicas());
});

after(() => stopReplicas({ server, a, b }));

describe('a lease holder killed with SIGKILL', () => {
  // No timer races the machine's load: the lease's ttl is 60 s, and its expiry is driven from here.
  test('keeps the lease while alive; once killed, nothing renews it and another client takes it', async () => {
    const key = 'f1:lease:reindex';
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        join(REPO_ROOT, 'test/redis/fixtures/lease-holder.ts'),
        server.url,
        'reindex',
        '60000',
        '100',
        'f1:',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`holder exited (${code}) before taking the lease`)));
        createInterface({ input: child.stdout! }).once('line', resolve);
      });
      assert.match(firstLine, /^held /);
      const token = firstLine.slice('held '.length);
      // Alive: it holds the key, and its heartbeat renews it (cut the ttl short; a renewal restores it).
      assert.equal(await a.get(key), token);
      await a.pexpire(key, 30_000);
      await eventually(async () => (await a.pttl(key)) > 30_000, 'a heartbeat from the holder');
      const whileAlive = await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'f1:' });
      assert.equal(whileAlive.held, false);

      child.kill('SIGKILL');
      await exited;
      // Once the server has dropped its connection, nothing more can arrive from it.
      await eventually(
        async () => !String(await a.call('CLIENT', 'LIST')).includes('name=lease-holder '),
        'the killed holder’s connection to close',
      );
      // Dead: the key still holds its token (it frees itself only when its ttl passes)...
      assert.equal(await a.get(key), token);
      assert.ok((await a.pttl(key)) > 0);
      assert.equal((await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'f1:' })).held, false);
      // ...and when it does (as if the ttl had passed), another client gets the lease.
      await a.pexpire(key, 1);
      await eventually(async () => (await a.exists(key)) === 0, 'the key to expire');
      const next = await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'f1:' });
      assert.equal(next.held, true);
      assert.notEqual(next.token, token);
      assert.equal(await a.get(key), next.token);
      await next.release();
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});

describe('a Redis restart', () => {
  test('clients reconnect and the next calls work; a subscription resubscribes', async () => {
    const limiterA = createSharedRateLimiter(a, { ratePerMinute: 2, prefix: 'f2:' });
    const limiterB = createSharedRateLimiter(b, { ratePerMinute: 2, prefix: 'f2:' });
    const deduper = createEventDeduper(a, { prefix: 'f2:' });
    assert.equal((await limiterA.take('u')).allowed, true);
    assert.equal(await deduper.claim('e1'), true);
    await deduper.done('e1');
    const seen: number[] = [];
    const sub = await subscribeProgress<{ n: number }>(b, 'run', (v) => seen.push(v.n), { prefix: 'f2:' });
    const lease = await acquireLease(a, 'reindex', { ttlMs: 60_000, heartbeatMs: 100, prefix: 'f2:' });
    assert.equal(lease.held, true);

    await server.restart();

    // The new server is empty (nothing persisted): state starts over, and the script cache too
    // (EVALSHA falls back to EVAL).
    assert.deepEqual(await limiterA.take('u'), { allowed: true, remaining: 1, retryAfterMs: 0 });
    assert.equal((await limiterB.take('u')).allowed, true);
    assert.equal((await limiterA.take('u')).allowed, false);
    assert.equal(await deduper.claim('e1'), true);
    assert.equal(await deduper.claim('e1'), false);
    // The lease's key went with the old server: its holder learns it on the next heartbeat.
    assert.equal(await lease.lost, 'taken');
    await lease.release();
    const again = await acquireLease(b, 'reindex', { ttlMs: 60_000, prefix: 'f2:' });
    assert.equal(again.held, true);
    await again.release();

    // The subscriber's own connection comes back and resubscribes: keep publishing until heard.
    let n = 0;
    const heardBy = Date.now() + 60_000;
    while (seen.length === 0) {
      assert.ok(Date.now() < heardBy, 'the subscription never came back');
      await publishProgress(a, 'run', { n: ++n }, { prefix: 'f2:' });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen.every((v) => v >= 1 && v <= n));
    assert.deepEqual(await readProgress(b, 'run', { prefix: 'f2:' }), { n });
    await sub.close();
  });
});

describe('a Redis outage', () => {
  test('a subscription logs each distinct connection error once, then that it is back', async () => {
    const log = recordingLogger();
    const seen: number[] = [];
    const sub = await subscribeProgress<{ n: number }>(b, 'run', (v) => seen.push(v.n), {
      prefix: 'f3:',
      logger: log,
    });
    // A client of its own that counts reconnect attempts: how long the outage has lasted so far.
    const probe = createRedisClient(server.url);
    let attempts = 0;
    probe.on('reconnecting', () => attempts++);
    try {
      await probe.ping();
      await server.down();
      const warns = () => log.entries.filter((e) => e.level === 'warn');
      await eventually(() => warns().length >= 1 && attempts >= 5, 'several failed reconnects');
      await server.up();
      await eventually(() => log.entries.some((e) => e.msg === 'redis connection back'), 'the subscription back');
      const errors = warns().map((e) => (e.obj as { err: string }).err);
      assert.ok(
        warns().every((e) => e.msg === 'redis connection error' && e.bindings.component === 'redis-progress'),
        JSON.stringify(warns()),
      );
      assert.equal(new Set(errors).size, errors.length, `each distinct error once: ${errors.join(' | ')}`);
      assert.equal(log.entries.filter((e) => e.msg === 'redis connection back').length, 1);
      // Resubscribed: keep publishing until heard.
      let n = 0;
      const heardBy = Date.now() + 60_000;
      while (seen.length === 0) {
        assert.ok(Date.now() < heardBy, 'the subscription never came back');
        await publishProgress(a, 'run', { n: ++n }, { prefix: 'f3:' });
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await sub.close();
      await closeRedis(probe);
    }
  });
});
