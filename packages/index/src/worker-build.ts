/**
 * A FAISS index built in a worker thread of its own from streamed chunks, handed back to this
 * thread as a native handle (no serialization, no copy). Used by `buildIndexInWorker` and by HNSW
 * compaction.
 */
import { type FaissModule, loadFaiss, type NativeIndex } from './faiss.js';
import type { NativeSpec } from './native.js';
import { WorkerClient } from './worker-client.js';
import type { BuildAddResult, BuildFinishResult } from './worker-protocol.js';

export interface BuiltNative {
  native: NativeIndex;
  /** Per FAISS position, the id sent with it. */
  ids: Float64Array;
  bytes: number | undefined;
}

export class WorkerBuild {
  readonly #faiss: FaissModule;
  readonly #client: WorkerClient;
  readonly #started: Promise<unknown>;
  #finished = false;

  constructor(spec: NativeSpec, threads: number) {
    this.#faiss = loadFaiss();
    this.#client = new WorkerClient('lookalike-index-build');
    this.#started = this.#client.call({ type: 'build-init', spec, threads });
    this.#started.catch(() => {}); // reported by the next add/finish
  }

  /** Sends one chunk; `vectors` (ids.length × d, a buffer of its own) is transferred, not copied. */
  async add(ids: Float64Array, vectors: Float32Array): Promise<number> {
    const r = await this.#client.call<BuildAddResult>({ type: 'build-add', ids, vectors }, [
      ids.buffer as ArrayBuffer,
      vectors.buffer as ArrayBuffer,
    ]);
    return r.count;
  }

  /** Takes the finished index (optionally after the worker saved it to `saveTo`) and stops the worker. */
  async finish(saveTo?: string): Promise<BuiltNative> {
    await this.#started;
    try {
      const r = await this.#client.call<BuildFinishResult>({ type: 'build-finish', saveTo });
      this.#finished = true;
      return { native: this.#faiss.Index.fromHandle(r.handle), ids: r.ids, bytes: r.bytes };
    } finally {
      await this.#client.terminate();
    }
  }

  /** Stops the worker and drops its work (pending calls reject). */
  async abort(): Promise<void> {
    if (!this.#finished) await this.#client.terminate();
  }
}
