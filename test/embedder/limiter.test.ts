/**
 * PriorityLimiter (the decode worker's two-class semaphore), on plain promises: no threads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EmbedPriority } from '@lookalike/core';
import { PriorityLimiter } from '@lookalike/embedder';

/** A task that runs until its `finish` is called; records when it starts. */
function gate(log: string[], name: string): { task: () => Promise<string>; finish: (fail?: Error) => void } {
  let settle: ((fail?: Error) => void) | undefined;
  return {
    task: () => {
      log.push(name);
      return new Promise<string>((resolve, reject) => {
        settle = (fail) => (fail === undefined ? resolve(name) : reject(fail));
      });
    },
    finish: (fail) => settle?.(fail),
  };
}

/** Lets settled promises run their continuations. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PriorityLimiter', () => {
  test('GIVEN a full limiter THEN waiting interactive tasks start before batch tasks queued earlier, each class FIFO', async () => {
    const limiter = new PriorityLimiter(2);
    const log: string[] = [];
    const queued: [EmbedPriority, string][] = [
      ['batch', 'b1'],
      ['batch', 'b2'],
      ['batch', 'b3'],
      ['batch', 'b4'],
      ['interactive', 'i1'],
      ['interactive', 'i2'],
    ];
    const gates = new Map(queued.map(([, name]) => [name, gate(log, name)]));
    const results = queued.map(([priority, name]) =>
      limiter.run(priority, (gates.get(name) as ReturnType<typeof gate>).task),
    );
    await flush();
    assert.deepEqual(log, ['b1', 'b2'], 'two at once');
    assert.equal(limiter.active, 2);
    assert.equal(limiter.waiting, 4);

    gates.get('b1')?.finish();
    await flush();
    assert.deepEqual(log, ['b1', 'b2', 'i1']);
    gates.get('b2')?.finish();
    await flush();
    assert.deepEqual(log, ['b1', 'b2', 'i1', 'i2']);
    gates.get('i1')?.finish();
    gates.get('i2')?.finish();
    await flush();
    assert.deepEqual(log, ['b1', 'b2', 'i1', 'i2', 'b3', 'b4']);
    gates.get('b3')?.finish();
    gates.get('b4')?.finish();
    assert.deepEqual(await Promise.all(results), ['b1', 'b2', 'b3', 'b4', 'i1', 'i2']);
    assert.equal(limiter.active, 0);
  });

  test('GIVEN a task that rejects THEN its caller gets the error and its slot goes to the next task', async () => {
    const limiter = new PriorityLimiter(1);
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const first = limiter.run('interactive', a.task);
    const second = limiter.run('batch', b.task);
    await flush();
    a.finish(new Error('decode failed'));
    await assert.rejects(first, /decode failed/);
    await flush();
    assert.deepEqual(log, ['a', 'b']);
    b.finish();
    assert.equal(await second, 'b');
  });

  test('GIVEN running and waiting tasks THEN idle() resolves only once all of them are done', async () => {
    const limiter = new PriorityLimiter(1);
    await limiter.idle(); // nothing to wait for
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    void limiter.run('batch', a.task);
    void limiter.run('batch', b.task);
    let idle = false;
    const idled = limiter.idle().then(() => {
      idle = true;
    });
    a.finish();
    await flush();
    assert.equal(idle, false, 'b still runs');
    b.finish();
    await idled;
    assert.equal(limiter.active, 0);
  });

  test('GIVEN a limit below 1 THEN it refuses', () => {
    assert.throws(() => new PriorityLimiter(0), RangeError);
    assert.throws(() => new PriorityLimiter(1.5), RangeError);
  });
});
