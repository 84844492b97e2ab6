/**
 * Coalesces single-image inference requests from any number of concurrent callers into
 * batches of up to `batchSize`, and runs ONE batch at a time on the runtime. Requests that
 * arrive while a batch runs wait and form the next batch, so preprocessing (sharp, on libuv
 * threads) overlaps inference. Each request settles on its own: a failed batch rejects only
 * its members.
 */
import { type Logger, LookalikeError } from '@lookalike/core';
import { INPUT_LENGTH } from './preprocess.js';
import { EMBEDDING_DIM, type InferenceRuntime } from './runtime.js';

interface Pending {
  tensor: Float32Array;
  resolve: (v: Float32Array) => void;
  reject: (e: unknown) => void;
}

export interface BatcherStats {
  batches: number;
  images: number;
  /** Largest batch run so far. */
  maxBatch: number;
}

export class InferenceBatcher {
  readonly #runtime: InferenceRuntime;
  readonly #batchSize: number;
  readonly #logger: Logger;
  readonly #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;
  /** One reusable input buffer for full batches (smaller ones use a subarray). */
  #buffer: Float32Array;
  readonly stats: BatcherStats = { batches: 0, images: 0, maxBatch: 0 };

  constructor(runtime: InferenceRuntime, batchSize: number, logger: Logger) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be ≥ 1, got ${batchSize}`);
    this.#runtime = runtime;
    this.#batchSize = batchSize;
    this.#logger = logger;
    this.#buffer = new Float32Array(batchSize * INPUT_LENGTH);
  }

  /** Number of requests waiting for a batch slot. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Embeds one preprocessed image (224·224·3 floats). */
  submit(tensor: Float32Array): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new LookalikeError('INTERNAL', 'embedder is disposed'));
    if (tensor.length !== INPUT_LENGTH) {
      return Promise.reject(
        new LookalikeError('INTERNAL', `preprocessed tensor must have ${INPUT_LENGTH} floats, got ${tensor.length}`),
      );
    }
    return new Promise<Float32Array>((resolve, reject) => {
      this.#queue.push({ tensor, resolve, reject });
      this.#schedule();
    });
  }

  /** Lets requests submitted in the same tick join the first batch, then drains. */
  #schedule(): void {
    if (this.#running !== undefined || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running === undefined && this.#queue.length > 0) {
        this.#running = this.#drain().finally(() => {
          this.#running = undefined;
          if (this.#queue.length > 0) this.#schedule();
        });
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchSize);
      const n = batch.length;
      const input = n === this.#batchSize ? this.#buffer : this.#buffer.subarray(0, n * INPUT_LENGTH);
      for (let i = 0; i < n; i++) input.set((batch[i] as Pending).tensor, i * INPUT_LENGTH);
      try {
        const out = await this.#runtime.run(input, n);
        this.stats.batches++;
        this.stats.images += n;
        this.stats.maxBatch = Math.max(this.stats.maxBatch, n);
        for (let i = 0; i < n; i++) {
          (batch[i] as Pending).resolve(out.slice(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM));
        }
      } catch (err) {
        const e =
          err instanceof LookalikeError
            ? err
            : new LookalikeError('INTERNAL', `inference failed: ${(err as Error)?.message ?? String(err)}`, {
                cause: err,
              });
        this.#logger.error({ err: e, batch: n }, 'inference batch failed');
        for (const p of batch) p.reject(e);
      }
    }
  }

  /** Waits for queued work to finish, then refuses new requests. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running !== undefined || this.#scheduled || this.#queue.length > 0) {
      if (this.#running !== undefined) await this.#running;
      else await new Promise<void>((r) => setImmediate(r));
    }
  }
}
