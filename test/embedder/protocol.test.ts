/**
 * What crosses a thread boundary: a LookalikeError whose details structured clone refuses (a
 * cycle plus a function) still arrives with its code, message, user sentence and the details
 * JSON can keep, and so does a worker's log line about it. Sent over a real MessageChannel
 * (the same structured clone the worker threads use).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { LookalikeError } from '@lookalike/core';
import { fromWire, toWire, type WireError, workerLogger } from '@lookalike/embedder';

/** Details with a cycle and a function: neither structured clone nor plain JSON takes them. */
function hostileDetails(): Record<string, unknown> {
  const node: Record<string, unknown> = { name: 'root' };
  node.parent = node;
  return { width: 20000, node, onProgress: () => {} };
}

/** Posts `message` through a MessageChannel and returns what arrives. */
async function roundTrip(send: (port: MessagePort) => void): Promise<unknown> {
  const { port1, port2 } = new MessageChannel();
  try {
    const arrived = once(port2, 'message');
    send(port1 as unknown as MessagePort);
    const [message] = await arrived;
    return message;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('errors across threads', () => {
  test('GIVEN a LookalikeError with circular, non-cloneable details THEN it arrives with its code, sentence and the plain details', async () => {
    const err = new LookalikeError('IMAGE_TOO_LARGE', 'image is 20000×20000', {
      details: hostileDetails(),
      userMessage: 'That image is too large.',
    });
    assert.throws(() => structuredClone(err.details));
    const wire = (await roundTrip((port) => port.postMessage(toWire(err)))) as WireError;
    const back = fromWire(wire, 'decode worker');
    assert.ok(back instanceof LookalikeError);
    assert.equal(back.code, 'IMAGE_TOO_LARGE');
    assert.equal(back.message, 'image is 20000×20000');
    assert.equal(back.userMessage, 'That image is too large.');
    assert.equal(back.details.width, 20000);
    assert.deepEqual(back.details.node, { name: 'root', parent: '[circular]' });
    assert.equal('onProgress' in back.details, false);
  });

  test('GIVEN details that even JSON cannot read THEN the error still arrives with its code', async () => {
    const details = {
      fn: () => {},
      hostile: {
        toJSON(): never {
          throw new Error('toJSON throws');
        },
      },
    };
    const err = new LookalikeError('UNSUPPORTED_IMAGE', 'not an image', { details });
    const back = fromWire((await roundTrip((port) => port.postMessage(toWire(err)))) as WireError, 'decode worker');
    assert.equal(back.code, 'UNSUPPORTED_IMAGE');
    assert.equal(typeof back.details.unserializable, 'string');
  });

  test('GIVEN something thrown that is not even printable THEN it arrives as INTERNAL', async () => {
    const back = fromWire(
      (await roundTrip((port) => port.postMessage(toWire(Object.create(null))))) as WireError,
      'inference worker',
    );
    assert.equal(back.code, 'INTERNAL');
  });
});

describe('worker log lines', () => {
  test("GIVEN a log line whose error has circular details THEN it arrives with the error's code and message", async () => {
    const err = new LookalikeError('INTERNAL', 'inference failed', { details: hostileDetails() });
    const line = (await roundTrip((port) =>
      workerLogger(port as never, { thread: 'inference' }).error({ err, batch: 2 }, 'inference batch failed'),
    )) as { type: string; level: string; msg: string; obj: Record<string, Record<string, unknown>> };
    assert.equal(line.type, 'log');
    assert.equal(line.level, 'error');
    assert.equal(line.msg, 'inference batch failed');
    assert.equal(line.obj.thread as unknown, 'inference');
    assert.equal(line.obj.batch as unknown, 2);
    assert.equal(line.obj.err?.code, 'INTERNAL');
    assert.equal(line.obj.err?.message, 'inference failed');
  });
});
