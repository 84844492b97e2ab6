/**
 * The reindex-progress throttle shared by Discord and Slack, on a manual clock: at most one
 * write per interval, the latest text wins, one write in flight, the final text last.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgressThrottle } from '@lookalike/chat';
import { manualClock, settle } from './fakes.js';

function recorder() {
  const written: string[] = [];
  const errors: unknown[] = [];
  return {
    written,
    errors,
    write: async (t: string) => void written.push(t),
    onWriteError: (e: unknown) => errors.push(e),
  };
}

test('GIVEN no earlier write THEN the first push is written at once; pushes within the interval wait and the latest wins', async () => {
  const clock = manualClock();
  const r = recorder();
  const t = createProgressThrottle({ intervalMs: 1000, clock, ...r });
  t.push('10%');
  await settle();
  assert.deepEqual(r.written, ['10%']);
  clock.advance(100);
  t.push('20%');
  clock.advance(100);
  t.push('30%');
  await settle();
  assert.deepEqual(r.written, ['10%'], 'nothing more inside the interval');
  clock.advance(799);
  await settle();
  assert.deepEqual(r.written, ['10%']);
  clock.advance(1);
  await settle();
  assert.deepEqual(r.written, ['10%', '30%'], '20% was replaced by the newer 30%');
  assert.equal(clock.pending(), 0, 'no timer left once nothing waits');
});

test('GIVEN lastWriteAt (a message just posted) THEN even the first push waits for the interval', async () => {
  const clock = manualClock(5000);
  const r = recorder();
  const t = createProgressThrottle({ intervalMs: 400, clock, lastWriteAt: 5000, ...r });
  t.push('a');
  await settle();
  assert.deepEqual(r.written, []);
  clock.advance(400);
  await settle();
  assert.deepEqual(r.written, ['a']);
});

test('GIVEN a slow write THEN no second write starts before it settles, and the latest text follows it', async () => {
  const clock = manualClock();
  const started: string[] = [];
  const release: (() => void)[] = [];
  const t = createProgressThrottle({
    intervalMs: 0,
    clock,
    write: (text) =>
      new Promise<void>((resolve) => {
        started.push(text);
        release.push(resolve);
      }),
    onWriteError: () => {},
  });
  t.push('1');
  t.push('2');
  t.push('3');
  await settle();
  assert.deepEqual(started, ['1'], 'one write in flight');
  release.shift()?.();
  await settle();
  assert.deepEqual(started, ['1', '3'], 'then only the latest text');
  release.shift()?.();
  await settle();
  assert.deepEqual(started, ['1', '3']);
});

test('GIVEN finish WHEN a text waits and a write is in flight THEN the waiting text is dropped and the final text goes out last', async () => {
  const clock = manualClock();
  const started: string[] = [];
  let releaseFirst: () => void = () => {};
  const t = createProgressThrottle({
    intervalMs: 1000,
    clock,
    write: (text) => {
      started.push(text);
      return text === 'p1' ? new Promise<void>((resolve) => (releaseFirst = resolve)) : Promise.resolve();
    },
    onWriteError: () => {},
  });
  t.push('p1');
  t.push('p2');
  const finished = t.finish('done');
  t.push('p3'); // after finish: ignored
  await settle();
  assert.deepEqual(started, ['p1'], 'the final write waits for the one in flight');
  releaseFirst();
  await finished;
  assert.deepEqual(started, ['p1', 'done']);
  assert.equal(clock.pending(), 0);
});

test('GIVEN a failing write THEN the error is reported and later writes still go out', async () => {
  const clock = manualClock();
  const errors: unknown[] = [];
  const written: string[] = [];
  const t = createProgressThrottle({
    intervalMs: 10,
    clock,
    write: async (text) => {
      if (text === 'bad') throw new Error('edit failed');
      written.push(text);
    },
    onWriteError: (e) => errors.push(e),
  });
  t.push('bad');
  await settle();
  clock.advance(10);
  t.push('good');
  await settle();
  await t.finish('done');
  assert.equal(errors.length, 1);
  assert.deepEqual(written, ['good', 'done']);
});

test('GIVEN a write in flight and a text waiting WHEN cancel() THEN it resolves after the write settles, drops the waiting text and ignores later pushes', async () => {
  const clock = manualClock();
  const written: string[] = [];
  let release: () => void = () => {};
  const t = createProgressThrottle({
    intervalMs: 1000,
    clock,
    write: (text) =>
      new Promise<void>((resolve) => {
        release = () => {
          written.push(text);
          resolve();
        };
      }),
    onWriteError: () => {},
  });
  t.push('a');
  t.push('b'); // waits behind the write in flight
  let cancelled = false;
  const done = t.cancel().then(() => {
    cancelled = true;
  });
  await settle();
  assert.equal(cancelled, false, 'cancel waits for the write in flight');
  release();
  await done;
  assert.deepEqual(written, ['a']);
  t.push('c');
  clock.advance(5000);
  await settle();
  assert.deepEqual(written, ['a'], 'nothing after cancel');
  assert.equal(clock.pending(), 0);
});
