/**
 * PriorityBatcher (the scheduling inside an inference worker) on a fake InferenceRuntime: no
 * model, no threads. Each tensor carries its id in its first float, and the fake returns that
 * id as the first float of its vector, so every batch's members and results can be read back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EmbedPriority, LookalikeError } from '@lookalike/core';
import {
  type BatcherEvents,
  EMBEDDING_DIM,
  INPUT_LENGTH,
  type InferenceRuntime,
  PriorityBatcher,
} from '@lookalike/embedder';

/** A runtime that records the ids of each batch, can hold a run until released, and can fail one. */
class FakeRuntime implements InferenceRuntime {
  readonly name = 'onnx';
  readonly detail = 'fake';
  readonly batches: number[][] = [];
  /** Runs that must wait for release(). */
  hold = false;
  failIf: (ids: number[]) => unknown = () => undefined;
  #release: (() => void) | undefined;

  async run(batch: Float32Array, n: number): Promise<Float32Array[]> {
    const ids = Array.from({ length: n }, (_, i) => batch[i * INPUT_LENGTH] as number);
    this.batches.push(ids);
    if (this.hold) await new Promise<void>((resolve) => (this.#release = resolve));
    const failure = this.failIf(ids);
    if (failure !== undefined) throw failure;
    return ids.map((id) => {
      const v = new Float32Array(EMBEDDING_DIM);
      v[0] = id;
      return v;
    });
  }

  release(): void {
    this.hold = false;
    this.#release?.();
  }

  async dispose(): Promise<void> {}
}

function tensor(id: number): Float32Array {
  const t = new Float32Array(INPUT_LENGTH);
  t[0] = id;
  return t;
}

interface Recorder extends BatcherEvents {
  results: Map<number, Float32Array>;
  failures: { ids: number[]; error: unknown }[];
  /** Resolves with the ids of the next batch that starts. */
  nextStart(): Promise<number[]>;
}

/** Events that record what happened. */
function recorder(): Recorder {
  const results = new Map<number, Float32Array>();
  const failures: { ids: number[]; error: unknown }[] = [];
  let waiter: ((ids: number[]) => void) | undefined;
  return {
    results,
    failures,
    started: (ids) => {
      waiter?.(ids);
      waiter = undefined;
    },
    done: (ids, vectors) => {
      ids.forEach((id, i) => {
        results.set(id, vectors[i] as Float32Array);
      });
    },
    failed: (ids, error) => {
      failures.push({ ids, error });
    },
    nextStart: () =>
      new Promise((resolve) => {
        waiter = resolve;
      }),
  };
}

function addAll(b: PriorityBatcher, priority: EmbedPriority, ids: number[]): void {
  for (const id of ids) b.add(id, priority, tensor(id));
}

describe('PriorityBatcher', () => {
  test('GIVEN batch work on the model WHEN interactive tensors arrive THEN they form the very next batch', async () => {
    const runtime = new FakeRuntime();
    const events = recorder();
    const batcher = new PriorityBatcher(runtime, { batchSize: 8, batchSliceSize: 2 }, events);
    runtime.hold = true;
    const first = events.nextStart();
    addAll(batcher, 'batch', [1, 2, 3, 4, 5]);
    assert.deepEqual(await first, [1, 2]);
    // Arrive while the first slice runs, after batch work that has waited longer.
    addAll(batcher, 'interactive', [101, 102, 103]);
    runtime.release();
    await batcher.idle();
    assert.deepEqual(runtime.batches, [[1, 2], [101, 102, 103], [3, 4], [5]]);
    assert.deepEqual(
      [...events.results.keys()].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 101, 102, 103],
    );
    assert.deepEqual(events.failures, []);
  });

  test('GIVEN more tensors than fit THEN batch work runs in slices of batchSliceSize and interactive in batches of batchSize', async () => {
    const runtime = new FakeRuntime();
    const batcher = new PriorityBatcher(runtime, { batchSize: 4, batchSliceSize: 3 }, recorder());
    addAll(batcher, 'batch', [1, 2, 3, 4, 5, 6, 7]);
    addAll(batcher, 'interactive', [11, 12, 13, 14, 15, 16]);
    await batcher.idle();
    assert.deepEqual(runtime.batches, [[11, 12, 13, 14], [15, 16], [1, 2, 3], [4, 5, 6], [7]]);
  });

  test('GIVEN a batch whose run fails THEN only its members fail, with the error, and later batches succeed', async () => {
    const runtime = new FakeRuntime();
    const events = recorder();
    const batcher = new PriorityBatcher(runtime, { batchSize: 8, batchSliceSize: 2 }, events);
    const boom = new LookalikeError('INTERNAL', 'inference failed');
    runtime.failIf = (ids) => (ids.includes(3) ? boom : undefined);
    addAll(batcher, 'batch', [1, 2, 3, 4, 5, 6]);
    await batcher.idle();
    assert.deepEqual(events.failures, [{ ids: [3, 4], error: boom }]);
    assert.deepEqual([...events.results.keys()], [1, 2, 5, 6]);
    for (const [id, v] of events.results) {
      assert.equal(v[0], id, 'each id gets its own vector');
      assert.equal(v.buffer.byteLength, EMBEDDING_DIM * 4, 'on a buffer of its own, as the runtime gave it');
    }
    // The batcher keeps working after the failure.
    addAll(batcher, 'interactive', [7]);
    await batcher.idle();
    assert.equal(events.results.get(7)?.[0], 7);
  });

  test('GIVEN a tensor of the wrong length THEN only it fails, at once', async () => {
    const runtime = new FakeRuntime();
    const events = recorder();
    const batcher = new PriorityBatcher(runtime, { batchSize: 8, batchSliceSize: 2 }, events);
    batcher.add(9, 'batch', new Float32Array(10));
    addAll(batcher, 'batch', [1]);
    assert.equal(events.failures.length, 1);
    assert.deepEqual(events.failures[0]?.ids, [9]);
    assert.ok(events.failures[0]?.error instanceof RangeError);
    await batcher.idle();
    assert.deepEqual(runtime.batches, [[1]]);
  });

  test('GIVEN a runtime that returns the wrong number of vectors THEN that batch fails', async () => {
    const runtime = new FakeRuntime();
    runtime.run = async () => [new Float32Array(EMBEDDING_DIM)];
    const events = recorder();
    const batcher = new PriorityBatcher(runtime, { batchSize: 8, batchSliceSize: 2 }, events);
    addAll(batcher, 'batch', [1, 2]);
    await batcher.idle();
    assert.deepEqual(events.failures[0]?.ids, [1, 2]);
    assert.equal(events.results.size, 0);
  });

  test('GIVEN a batch or slice size below 1 THEN it refuses to start', () => {
    const runtime = new FakeRuntime();
    assert.throws(() => new PriorityBatcher(runtime, { batchSize: 0, batchSliceSize: 2 }, recorder()), RangeError);
    assert.throws(() => new PriorityBatcher(runtime, { batchSize: 2, batchSliceSize: 1.5 }, recorder()), RangeError);
  });
});
