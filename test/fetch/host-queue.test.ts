/**
 * The per-host download queue: at most `perHost` downloads in flight per host (hosts apart),
 * retries with full-jitter exponential backoff on 5xx, 429, timeouts and network errors (the
 * waits recorded through the injected `random` and `sleep`), none on another 4xx, Retry-After
 * honoured, capped and holding back the whole host, the `retries` counter, and the last error
 * thrown. Real fetcher against loopback servers where the classification of an answer matters.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { type ConditionalFetcher, LookalikeError } from '@lookalike/core';
import { createFetcher, createHostQueue, isRetryable } from '@lookalike/fetch';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { listenOnLoopback } from '../helpers/net.js';

/** A promise the test settles. */
interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets the queue start what it may (p-queue starts tasks from microtasks and promise callbacks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

/** Calls `check` between event-loop turns until it is true; fails after `turns` turns. */
async function until(check: () => boolean, what: string, turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await tick();
  }
  assert.fail(`never happened: ${what}`);
}

function httpError(status: number, extra: Record<string, unknown> = {}): LookalikeError {
  return new LookalikeError('FETCH_FAILED', `HTTP ${status}`, { details: { reason: 'http', status, ...extra } });
}

/** Sleeps that return at once and remember how long they were asked to wait. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

describe('createHostQueue: concurrency per host', () => {
  test('GIVEN perHost 2 and downloads on two hosts THEN at most 2 run per host at once, and the hosts do not wait for each other', async () => {
    const q = createHostQueue({ perHost: 2 });
    const active = new Map<string, number>();
    const peak = new Map<string, number>();
    const started: string[] = [];
    const gates: Deferred<void>[] = [];
    const task = (host: string, n: number) => () => {
      started.push(`${host}#${n}`);
      active.set(host, (active.get(host) ?? 0) + 1);
      peak.set(host, Math.max(peak.get(host) ?? 0, active.get(host) ?? 0));
      const gate = deferred<void>();
      gates.push(gate);
      return gate.promise.then(() => {
        active.set(host, (active.get(host) ?? 0) - 1);
        return `${host}#${n}`;
      });
    };
    const runs = [
      ...[1, 2, 3, 4, 5].map((n) => q.run(`http://a.example/img/${n}.jpg`, task('a', n))),
      ...[1, 2, 3].map((n) => q.run(`http://b.example:8080/img/${n}.jpg`, task('b', n))),
    ];
    await settle();
    // Host b started its first two although host a's queue is full.
    assert.deepEqual(started, ['a#1', 'a#2', 'b#1', 'b#2']);
    // One of a's finishes: exactly one more of a's starts, none of b's.
    gates[0]?.resolve();
    await settle();
    assert.deepEqual(started.slice(4), ['a#3']);
    assert.equal(active.get('a'), 2);
    // Let everything through, one at a time, as it starts.
    for (let done = 1; done < 8; done++) {
      await until(() => gates.length > done, `download ${done + 1} started`);
      gates[done]?.resolve();
    }
    assert.deepEqual((await Promise.all(runs)).sort(), ['a#1', 'a#2', 'a#3', 'a#4', 'a#5', 'b#1', 'b#2', 'b#3']);
    assert.deepEqual(Object.fromEntries(peak), { a: 2, b: 2 });
    assert.equal(q.retries, 0);
  });

  test('GIVEN six downloads through the fetcher to one loopback server THEN the server never has more than perHost requests in flight', async () => {
    const held: ServerResponse[] = [];
    let inFlight = 0;
    let serverPeak = 0;
    const server = createServer((_req, res) => {
      inFlight++;
      serverPeak = Math.max(serverPeak, inFlight);
      res.on('close', () => {
        inFlight--;
      });
      held.push(res);
    });
    const port = await listenOnLoopback(server);
    const fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: { maxBytes: 1024 * 1024, maxPixels: 40_000_000 },
      allowPrivate: true,
    });
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    try {
      const q = createHostQueue({ perHost: 3 });
      let calls = 0;
      const runs = Array.from({ length: 6 }, (_, i) =>
        q.run(`http://127.0.0.1:${port}/img/${i}.png`, () => {
          calls++;
          return fetcher.fetch(`http://127.0.0.1:${port}/img/${i}.png`);
        }),
      );
      await until(() => held.length === 3, 'three requests at the server');
      assert.equal(calls, 3, 'the other three are still queued');
      let answered = 0;
      while (answered < 6) {
        await until(() => held.length > answered, `request ${answered + 1} at the server`);
        const res = held[answered++] as ServerResponse;
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      }
      for (const bytes of await Promise.all(runs)) assert.deepEqual(bytes, png);
      assert.equal(serverPeak, 3);
      assert.equal(calls, 6);
    } finally {
      await fetcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('createHostQueue: retries', () => {
  /** A loopback server whose paths script their answers: `/script/<name>` pops the next step. */
  let server: Server;
  let port: number;
  let fetcher: ConditionalFetcher;
  let png: Buffer;
  const scripts = new Map<string, ((req: IncomingMessage, res: ServerResponse) => void)[]>();
  const hits = new Map<string, number>();
  const url = (name: string) => `http://127.0.0.1:${port}/script/${name}`;
  const ok = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(png);
  };
  const status =
    (code: number, headers: Record<string, string> = {}) =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(code, { 'content-type': 'text/plain', ...headers });
      res.end(`status ${code}`);
    };
  /** Never answers: the fetcher's timeout ends it. */
  const stall = () => {};

  before(async () => {
    png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#654321' } })
      .png()
      .toBuffer();
    server = createServer((req, res) => {
      const name = (req.url ?? '').replace(/^\/script\//, '');
      hits.set(name, (hits.get(name) ?? 0) + 1);
      const step = scripts.get(name)?.shift() ?? status(500);
      step(req, res);
    });
    port = await listenOnLoopback(server);
    fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: { maxBytes: 1024 * 1024, maxPixels: 40_000_000 },
      timeoutMs: 300,
      connectTimeoutMs: 1000,
      allowPrivate: true,
    });
  });

  after(async () => {
    await fetcher.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('GIVEN 503, 500, 429 (no Retry-After), then 200 THEN three retries with full-jitter waits below min(maxDelay, base·2ⁿ)', async () => {
    scripts.set('flaky', [status(503), status(500), status(429), ok]);
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5, sleep });
    assert.deepEqual(await q.run(url('flaky'), () => fetcher.fetch(url('flaky'))), png);
    assert.equal(hits.get('flaky'), 4);
    assert.equal(q.retries, 3);
    // random 0.5 of 100, 200, 400.
    assert.deepEqual(waits, [50, 100, 200]);
  });

  test('GIVEN random close to 1 THEN every wait stays below its cap, and maxDelayMs caps the growth', async () => {
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ retries: 5, baseDelayMs: 100, maxDelayMs: 350, random: () => 0.999999, sleep });
    let attempts = 0;
    const err = await rejectsWith(
      q.run('http://cdn.example/x.jpg', () => {
        attempts++;
        return Promise.reject(httpError(502));
      }),
      'FETCH_FAILED',
    );
    assert.equal(err.details.status, 502);
    assert.equal(attempts, 6);
    assert.equal(q.retries, 5);
    // Caps: 100, 200, 350 (not 400), 350, 350; each wait is below its cap.
    assert.deepEqual(waits, [99, 199, 349, 349, 349]);
    const zero = recordingSleep();
    const q0 = createHostQueue({ retries: 2, random: () => 0, sleep: zero.sleep });
    await rejectsWith(
      q0.run('http://cdn.example/y.jpg', () => Promise.reject(httpError(500))),
      'FETCH_FAILED',
    );
    assert.deepEqual(zero.waits, [0, 0]);
  });

  test('GIVEN a stalled answer, then a closed connection, then 200 THEN timeouts and network errors are retried', async () => {
    scripts.set('unreliable', [
      stall,
      (req) => {
        req.socket.destroy();
      },
      ok,
    ]);
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ random: () => 0, sleep });
    const reasons: unknown[] = [];
    const bytes = await q.run(url('unreliable'), async () => {
      try {
        return await fetcher.fetch(url('unreliable'));
      } catch (err) {
        reasons.push((err as LookalikeError).details.reason);
        throw err;
      }
    });
    assert.deepEqual(bytes, png);
    assert.deepEqual(reasons, ['timeout', 'network']);
    assert.equal(q.retries, 2);
    assert.equal(waits.length, 2);
  });

  test('GIVEN a 404 or a 400 THEN no retry: one request, the error as the fetcher threw it', async () => {
    for (const code of [404, 400]) {
      const name = `client-${code}`;
      scripts.set(name, [status(code), ok]);
      const { sleep, waits } = recordingSleep();
      const q = createHostQueue({ sleep });
      const err = await rejectsWith(
        q.run(url(name), () => fetcher.fetch(url(name))),
        'FETCH_FAILED',
      );
      assert.deepEqual([err.details.reason, err.details.status], ['http', code]);
      assert.equal(hits.get(name), 1);
      assert.equal(q.retries, 0);
      assert.deepEqual(waits, []);
    }
  });

  test('GIVEN failures that are not worth another attempt THEN isRetryable says so, and a plain Error passes through untouched', async () => {
    const cases: [unknown, boolean][] = [
      [httpError(500), true],
      [httpError(503), true],
      [httpError(429), true],
      [httpError(404), false],
      [httpError(400), false],
      [httpError(304), false],
      [new LookalikeError('FETCH_FAILED', 'slow', { details: { reason: 'timeout' } }), true],
      [new LookalikeError('FETCH_FAILED', 'reset', { details: { reason: 'network' } }), true],
      [new LookalikeError('FETCH_FAILED', 'loop', { details: { reason: 'redirects' } }), false],
      [new LookalikeError('FETCH_FAILED', 'big', { details: { reason: 'too-large' } }), false],
      [new LookalikeError('FETCH_FAILED', 'empty', { details: { reason: 'empty' } }), false],
      [new LookalikeError('FETCH_NOT_IMAGE', 'html'), false],
      [new LookalikeError('IMAGE_TOO_LARGE', 'big'), false],
      [new LookalikeError('HOST_NOT_ALLOWED', 'no'), false],
      [new Error('boom'), false],
    ];
    for (const [err, expected] of cases) assert.equal(isRetryable(err), expected, String(err));
    const q = createHostQueue({ sleep: recordingSleep().sleep });
    const plain = new TypeError('not a download error');
    let attempts = 0;
    await assert.rejects(
      q.run('http://cdn.example/z.jpg', () => {
        attempts++;
        return Promise.reject(plain);
      }),
      (err) => err === plain,
    );
    assert.equal(attempts, 1);
  });

  test('GIVEN every attempt failing differently THEN the last error is the one thrown', async () => {
    const { sleep } = recordingSleep();
    const q = createHostQueue({ retries: 2, sleep });
    const thrown: LookalikeError[] = [];
    const err = await rejectsWith(
      q.run('http://cdn.example/a.jpg', () => {
        const e = httpError(500 + thrown.length, { attempt: thrown.length });
        thrown.push(e);
        return Promise.reject(e);
      }),
      'FETCH_FAILED',
    );
    assert.equal(thrown.length, 3);
    assert.equal(err, thrown[2]);
    assert.deepEqual([err.details.status, err.details.attempt], [502, 2]);
    assert.equal(q.retries, 2);
  });

  test('GIVEN a 429 with Retry-After in seconds THEN the retry waits that long, not a jittered backoff', async () => {
    scripts.set('limited', [status(429, { 'retry-after': '20' }), ok]);
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ maxDelayMs: 60_000, random: () => 0.5, sleep });
    assert.deepEqual(await q.run(url('limited'), () => fetcher.fetch(url('limited'))), png);
    assert.equal(q.retries, 1);
    assert.equal(waits.length, 1);
    // What is left of 20 s when the retry starts (a few ms went by).
    assert.ok((waits[0] as number) > 10_000 && (waits[0] as number) <= 20_000, `waited ${waits[0]} ms`);
  });

  test('GIVEN a 503 with a Retry-After an hour away THEN the wait is capped by maxDelayMs', async () => {
    const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
    scripts.set('maintenance', [status(503, { 'retry-after': inAnHour }), ok]);
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ maxDelayMs: 5_000, sleep });
    assert.deepEqual(await q.run(url('maintenance'), () => fetcher.fetch(url('maintenance'))), png);
    assert.equal(waits.length, 1);
    assert.ok((waits[0] as number) > 2_500 && (waits[0] as number) <= 5_000, `waited ${waits[0]} ms`);
  });

  test('GIVEN a Retry-After from one download THEN the next download of that host waits too, another host does not', async () => {
    const { sleep, waits } = recordingSleep();
    const q = createHostQueue({ perHost: 1, maxDelayMs: 60_000, sleep });
    const order: string[] = [];
    const waitsWhenStarted = new Map<string, number>();
    const task = (name: string, fail: boolean) => {
      let first = true;
      return () => {
        order.push(name);
        if (!waitsWhenStarted.has(name)) waitsWhenStarted.set(name, waits.length);
        if (fail && first) {
          first = false;
          return Promise.reject(httpError(429, { retryAfterMs: 30_000 }));
        }
        return Promise.resolve(name);
      };
    };
    const results = await Promise.all([
      q.run('http://shop.example/a.jpg', task('a', true)),
      q.run('http://shop.example/b.jpg', task('b', false)),
      q.run('http://other.example/c.jpg', task('c', false)),
    ]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.equal(q.retries, 1);
    // c (another host) started at once, before any wait; b (queued behind a) waited for the pause.
    assert.equal(waitsWhenStarted.get('c'), 0);
    assert.equal(waitsWhenStarted.get('b'), 1, `b started after ${waitsWhenStarted.get('b')} waits: ${waits}`);
    assert.equal(waits.length, 2, `a's retry and b each waited once: ${waits}`);
    for (const w of waits) assert.ok(w > 20_000 && w <= 30_000, `waited ${w} ms`);
    assert.deepEqual(
      order.filter((n) => n !== 'c'),
      ['a', 'b', 'a'],
    );
  });
});
