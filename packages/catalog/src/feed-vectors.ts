/**
 * The vector of an image (by content hash) for one feed run: a stored item with the same bytes
 * lends its vector; else the image is embedded, at most `window` calls in flight (the embedder
 * coalesces them into batches). One embedding per distinct image per run.
 */
import type { Embedder } from '@lookalike/core';
import type { CatalogStore } from './store.js';

/** A FIFO counting semaphore. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(n: number) {
    this.#free = Math.max(1, n);
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

export interface FeedVectorsOptions {
  /** The store the run writes (its vectors are made with the loaded weights). */
  store: CatalogStore;
  embedder: Embedder;
  /** Embed calls in flight at most. */
  window: number;
  /** Vectors remembered per run by content hash. @defaultValue 4096 */
  memo?: number;
}

export class FeedVectors {
  /** Images sent through the embedder. */
  embedded = 0;
  readonly #o: FeedVectorsOptions;
  readonly #slots: Slots;
  readonly #memo = new Map<string, Promise<Float32Array>>();
  readonly #cap: number;

  constructor(options: FeedVectorsOptions) {
    this.#o = options;
    this.#slots = new Slots(options.window);
    this.#cap = Math.max(1, options.memo ?? 4096);
  }

  /**
   * The vector of the image with content hash `sha256`; `load` gives its bytes when it must be
   * embedded. Rejects with the embedder's error (IMAGE_DECODE_FAILED … for a bad image).
   */
  get(sha256: string, load: () => Promise<Buffer>): Promise<Float32Array> {
    const known = this.#memo.get(sha256);
    if (known !== undefined) return known;
    const stored = this.#o.store.vectorBySha(sha256);
    const p = stored !== undefined ? Promise.resolve(stored) : this.#embed(load);
    this.#memo.set(sha256, p);
    if (this.#memo.size > this.#cap) this.#memo.delete(this.#memo.keys().next().value as string);
    // A rejection is read by whoever awaits it; the memo itself must not count as unhandled.
    p.catch(() => {});
    return p;
  }

  async #embed(load: () => Promise<Buffer>): Promise<Float32Array> {
    await this.#slots.acquire();
    try {
      const bytes = await load();
      this.embedded++;
      const [vector] = await this.#o.embedder.embed([bytes], { priority: 'batch' });
      if (vector === undefined) throw new Error('embedder returned no vector');
      return vector;
    } finally {
      this.#slots.release();
    }
  }
}
