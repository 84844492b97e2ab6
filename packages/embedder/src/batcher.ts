/**
 * Inside an inference worker: the decoded tensors waiting for the model, in two classes, and the
 * loop that runs ONE batch at a time. Each batch takes every waiting interactive tensor (up to
 * `batchSize`) or, when none waits, up to `batchSliceSize` batch tensors. So an interactive tensor
 * that arrives while a batch slice runs goes next: it waits for at most that one slice.
 *
 * ORT's `session.run` blocks this thread's event loop, so tensors that arrive during a run are
 * read only after it: before choosing the next batch the loop yields once (setImmediate), which
 * lets the message port deliver them first. A failed batch rejects only its members.
 */
import type { EmbedPriority } from '@lookalike/core';
import { Fifo } from './fifo.js';
import { INPUT_LENGTH, type InferenceRuntime } from './runtime.js';

interface Waiting {
  id: number;
  tensor: Float32Array;
}

export interface BatcherEvents {
  /** A batch is about to run. */
  started(ids: number[]): void;
  /** One vector per id, each on its own buffer (so it can be transferred). */
  done(ids: number[], vectors: Float32Array[]): void;
  failed(ids: number[], error: unknown): void;
}

export interface BatcherOptions {
  /** Largest interactive batch. */
  batchSize: number;
  /** Largest batch of 'batch' work. */
  batchSliceSize: number;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class PriorityBatcher {
  readonly #runtime: InferenceRuntime;
  readonly #sizes: Record<EmbedPriority, number>;
  readonly #events: BatcherEvents;
  readonly #waiting: Record<EmbedPriority, Fifo<Waiting>> = { interactive: new Fifo(), batch: new Fifo() };
  /** One reusable input buffer (smaller batches use a prefix). */
  readonly #buffer: Float32Array;
  #running: Promise<void> | undefined;

  constructor(runtime: InferenceRuntime, options: BatcherOptions, events: BatcherEvents) {
    for (const [name, v] of [
      ['batchSize', options.batchSize],
      ['batchSliceSize', options.batchSliceSize],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be ≥ 1, got ${v}`);
    }
    this.#runtime = runtime;
    this.#sizes = { interactive: options.batchSize, batch: options.batchSliceSize };
    this.#events = events;
    this.#buffer = new Float32Array(Math.max(options.batchSize, options.batchSliceSize) * INPUT_LENGTH);
  }

  add(id: number, priority: EmbedPriority, tensor: Float32Array): void {
    if (tensor.length !== INPUT_LENGTH) {
      this.#events.failed([id], new RangeError(`tensor must have ${INPUT_LENGTH} floats, got ${tensor.length}`));
      return;
    }
    this.#waiting[priority].push({ id, tensor });
    this.#running ??= this.#drain();
  }

  /** The next batch: interactive first. */
  #take(): Waiting[] {
    for (const priority of ['interactive', 'batch'] as const) {
      const queue = this.#waiting[priority];
      if (queue.length === 0) continue;
      const batch: Waiting[] = [];
      while (batch.length < this.#sizes[priority] && queue.length > 0) batch.push(queue.shift() as Waiting);
      return batch;
    }
    return [];
  }

  async #drain(): Promise<void> {
    try {
      await this.#loop();
    } finally {
      // Cleared in the same turn the loop found nothing to do, so a later add() starts a new one.
      this.#running = undefined;
    }
  }

  async #loop(): Promise<void> {
    for (;;) {
      // Lets tensors that arrived in the same turn (or during the last run) join, in priority order.
      await yieldToLoop();
      const batch = this.#take();
      const n = batch.length;
      if (n === 0) return;
      const ids = batch.map((w) => w.id);
      const input = this.#buffer.subarray(0, n * INPUT_LENGTH);
      for (let i = 0; i < n; i++) input.set((batch[i] as Waiting).tensor, i * INPUT_LENGTH);
      this.#events.started(ids);
      let vectors: Float32Array[];
      try {
        vectors = await this.#runtime.run(input, n);
        if (vectors.length !== n)
          throw new RangeError(`the runtime returned ${vectors.length} vectors for ${n} images`);
      } catch (err) {
        this.#events.failed(ids, err);
        continue;
      }
      // The runtime gave each vector its own buffer: handed on as they are, no copy.
      this.#events.done(ids, vectors);
    }
  }

  /** Resolves once nothing waits or runs. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }
}
