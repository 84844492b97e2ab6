/**
 * HNSW compaction. FAISS's HNSW cannot delete, so removed items stay in the graph as tombstones
 * (filtered out of results) until a compaction rebuilds the graph from the live vectors.
 *
 * The rebuild runs in a worker thread. Stored vectors never change in place in an HNSW index
 * (adds append, removes only tombstone), so positions [0, n) can be read chunk by chunk across
 * event-loop turns and still form one consistent snapshot. The run streams the live positions to
 * the worker, then catches up with positions appended meanwhile until few remain; `complete()`
 * (synchronous, called by the index in the same turn as its swap) adds that last tail on this
 * thread. Whatever was removed during the run is a tombstone in the new index, because the index
 * maps old positions to new ones and keeps only positions still live at swap time.
 */
import { type Logger, LookalikeError } from '@lookalike/core';
import { type FaissModule, loadFaiss, type NativeIndex } from './faiss.js';
import { addPacked, type NativeSpec } from './native.js';
import { WorkerBuild } from './worker-build.js';

export interface CompactionSource {
  /** The index being compacted; not swapped while the compaction runs. */
  readonly native: NativeIndex;
  /** Positions stored so far (grows as items are added). */
  stored(): number;
  /** True while the item at `pos` is live. */
  isLive(pos: number): boolean;
}

export interface CompactionOptions {
  spec: NativeSpec;
  /** OpenMP threads of the worker. */
  threads: number;
  /** OpenMP threads for the tail added on this thread. */
  tailThreads: number;
  /** Vectors per chunk read and sent to the worker. */
  chunk: number;
  /** At most this many appended positions are left for `complete()` to add on this thread. */
  tail: number;
  logger: Logger;
}

export interface CompactedIndex {
  native: NativeIndex;
  /** For each position of `native`, the position it had in the source. */
  oldPositions: number[];
}

/** A finished worker build whose last few positions still have to be added (see `complete`). */
export interface ReadyCompaction {
  /** Adds the positions appended since the last chunk and returns the new index. Synchronous. */
  complete(): CompactedIndex;
}

const MAX_ROUNDS = 8;

export class Compaction {
  readonly #src: CompactionSource;
  readonly #opts: CompactionOptions;
  readonly #faiss: FaissModule;
  #build: WorkerBuild | undefined;
  #aborted = false;
  /** Resolves with the worker's index, or rejects (also when aborted). */
  readonly ready: Promise<ReadyCompaction>;

  constructor(src: CompactionSource, opts: CompactionOptions) {
    this.#src = src;
    this.#opts = opts;
    this.#faiss = loadFaiss();
    this.ready = this.#run();
    this.ready.catch(() => {}); // the owner awaits it; an abort must not surface as unhandled
  }

  async abort(): Promise<void> {
    this.#aborted = true;
    await this.#build?.abort();
  }

  #check(): void {
    if (this.#aborted) throw new LookalikeError('INTERNAL', 'compaction aborted');
  }

  /** Copies the live vectors of positions [from, from + n) into a fresh buffer. */
  #readLive(from: number, n: number): { positions: number[]; vectors: Float32Array } {
    const d = this.#opts.spec.dimension;
    const block = this.#src.native.reconstructBatch(from, n);
    const positions: number[] = [];
    for (let i = 0; i < n; i++) if (this.#src.isLive(from + i)) positions.push(from + i);
    if (positions.length === n) return { positions, vectors: block };
    const vectors = new Float32Array(positions.length * d);
    positions.forEach((p, j) => {
      const i = p - from;
      vectors.set(block.subarray(i * d, (i + 1) * d), j * d);
    });
    return { positions, vectors };
  }

  async #run(): Promise<ReadyCompaction> {
    // Start on a later turn: the remove() that triggered the compaction returns at once.
    await new Promise((resolve) => setImmediate(resolve));
    this.#check();
    const build = new WorkerBuild(this.#opts.spec, this.#opts.threads);
    this.#build = build;
    const t0 = performance.now();
    const oldPositions: number[] = [];
    let cursor = 0;
    for (let round = 0; ; round++) {
      const end = this.#src.stored();
      if (round > 0 && (end - cursor <= this.#opts.tail || round >= MAX_ROUNDS)) break;
      while (cursor < end) {
        this.#check();
        const n = Math.min(this.#opts.chunk, end - cursor);
        const { positions, vectors } = this.#readLive(cursor, n);
        cursor += n;
        if (positions.length === 0) continue;
        await build.add(Float64Array.from(positions), vectors);
        for (const p of positions) oldPositions.push(p);
      }
    }
    this.#check();
    const built = await build.finish();
    this.#check();
    const workerMs = performance.now() - t0;
    return {
      complete: () => {
        const t1 = performance.now();
        const end = this.#src.stored();
        let tail = 0;
        if (cursor < end) {
          const { positions, vectors } = this.#readLive(cursor, end - cursor);
          if (positions.length > 0) {
            addPacked(this.#faiss, built.native, vectors, this.#opts.spec.dimension, this.#opts.tailThreads);
            for (const p of positions) oldPositions.push(p);
            tail = positions.length;
          }
        }
        this.#opts.logger.debug(
          {
            stored: oldPositions.length,
            tail,
            workerMs: Math.round(workerMs),
            tailMs: Math.round(performance.now() - t1),
          },
          'hnsw compaction built',
        );
        return { native: built.native, oldPositions };
      },
    };
  }
}
