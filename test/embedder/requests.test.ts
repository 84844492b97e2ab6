/**
 * RequestTable (the main thread's book of images): order of hand-out, per-class caps, where each
 * image is, and how settling it updates the counts. Pure bookkeeping: no threads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LookalikeError } from '@lookalike/core';
import { RequestTable } from '@lookalike/embedder';

const bytes = (n: number): Uint8Array => new Uint8Array([n]);

describe('RequestTable', () => {
  test('GIVEN images of both classes THEN nextQueued hands out interactive first, each class in arrival order', () => {
    const table = new RequestTable();
    for (const [n, p] of [
      [1, 'batch'],
      [2, 'interactive'],
      [3, 'batch'],
      [4, 'interactive'],
    ] as const) {
      void table.add(bytes(n), p, { failed: false });
    }
    const order: number[] = [];
    for (let r = table.nextQueued(() => true); r !== undefined; r = table.nextQueued(() => true)) {
      order.push((r.input as Uint8Array)[0] as number);
      table.markDispatched(r, 0);
    }
    assert.deepEqual(order, [2, 4, 1, 3]);
  });

  test('GIVEN a class at its cap THEN the other class is still handed out, and the capped one waits', () => {
    const table = new RequestTable();
    void table.add(bytes(1), 'interactive', { failed: false });
    void table.add(bytes(2), 'batch', { failed: false });
    const first = table.nextQueued((p) => p === 'batch');
    assert.equal(first?.priority, 'batch');
    assert.equal(
      table.nextQueued((p) => p === 'batch'),
      undefined,
    );
    assert.equal(table.nextQueued(() => true)?.priority, 'interactive');
  });

  test('GIVEN images moving through the stages THEN depth, dispatched and load follow them, and settling resolves the caller', async () => {
    const table = new RequestTable();
    const call = { failed: false };
    const a = table.add(bytes(1), 'interactive', call);
    const b = table.add(bytes(2), 'batch', { failed: false });
    const c = table.add(bytes(3), 'batch', { failed: false });
    assert.equal(table.size, 3);
    assert.deepEqual(table.depth(), { queued: { interactive: 1, batch: 2 }, running: 0 });

    const ra = table.nextQueued(() => true);
    const rb = table.nextQueued(() => true);
    assert.ok(ra !== undefined && rb !== undefined);
    table.markDispatched(ra, 0);
    table.markDispatched(rb, 1);
    assert.equal(ra.stage, 'decoding');
    assert.deepEqual(
      [table.dispatched('interactive'), table.dispatched('batch'), table.load(0), table.load(1)],
      [1, 1, 1, 1],
    );

    table.markDecoded(ra.id);
    assert.equal(ra.stage, 'decoded');
    table.markRunning([ra.id, rb.id]);
    assert.deepEqual(table.depth(), { queued: { interactive: 0, batch: 1 }, running: 2 });

    const vector = new Float32Array(2048);
    table.resolve(ra.id, vector);
    assert.equal(await a, vector);
    const error = new LookalikeError('INTERNAL', 'worker died');
    table.reject(rb.id, error);
    await assert.rejects(b, (e) => e === error);
    assert.deepEqual(
      [table.dispatched('interactive'), table.dispatched('batch'), table.load(0), table.load(1)],
      [0, 0, 0, 0],
    );
    assert.deepEqual(table.depth(), { queued: { interactive: 0, batch: 1 }, running: 0 });
    assert.equal(table.get(ra.id), undefined);
    assert.equal(table.size, 1);

    let idle = false;
    const idled = table.idle().then(() => {
      idle = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(idle, false, 'one image is still open');
    const rc = table.nextQueued(() => true);
    assert.ok(rc !== undefined);
    table.resolve(rc.id, new Float32Array(2048));
    await c;
    await idled;
    assert.equal(table.size, 0);
  });

  test('GIVEN a waiting image that is rejected THEN its call is marked failed and nextQueued skips it', async () => {
    const table = new RequestTable();
    const call = { failed: false };
    const first = table.add(bytes(1), 'batch', call);
    const second = table.add(bytes(2), 'batch', { failed: false });
    const r1 = table.filter((r) => (r.input as Uint8Array)[0] === 1)[0];
    assert.ok(r1 !== undefined);
    table.reject(r1.id, new LookalikeError('IMAGE_TOO_LARGE', 'too big'));
    await assert.rejects(first, { code: 'IMAGE_TOO_LARGE' });
    assert.equal(call.failed, true);
    const next = table.nextQueued(() => true);
    assert.ok(next !== undefined);
    assert.equal((next.input as Uint8Array)[0], 2);
    table.resolve(next.id, new Float32Array(2048));
    await second;
    // Settling an image twice (a late message from a dead worker) changes nothing.
    table.resolve(r1.id, new Float32Array(2048));
    assert.equal(table.size, 0);
  });
});
