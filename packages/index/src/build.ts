/**
 * Building a whole index off the main thread, e.g. at start-up when the index file is stale: the
 * caller streams (ids, vectors) chunks; a worker thread validates them and builds the FAISS index
 * (flat or HNSW); the finished index comes back as a native handle, so taking it over costs this
 * thread nothing but the id map. `finish({ saveTo })` also has the worker write the file.
 */
import { LookalikeError } from '@lookalike/core';
import { checkLength, checkNewIds, checkPositiveInt, defaultWorkerThreads, internal, pack } from './checks.js';
import { commonOptions, specFrom } from './create.js';
import type { BuildIndexOptions, VectorIndex } from './types.js';
import { FaissVectorIndex } from './vector-index.js';
import { WorkerBuild } from './worker-build.js';

export interface IndexBuilder {
  /** Vectors accepted so far (sent to the worker). */
  readonly added: number;
  /**
   * Sends a chunk to the worker; resolves when the worker has added it. The vectors are copied
   * into one buffer that is transferred (the caller's arrays stay usable). Ids must be safe
   * integers, unique over the whole build; vectors finite and of the index's dimension. A rejected
   * chunk fails the build: later `add`/`finish` calls reject with the same error.
   */
  add(ids: readonly number[], vectors: readonly Float32Array[]): Promise<void>;
  /** Waits for every chunk, optionally writes the file (atomically, in the worker), and returns the index. */
  finish(options?: { saveTo?: string }): Promise<VectorIndex>;
  /** Drops the build and stops its worker. */
  abort(): Promise<void>;
}

export function buildIndexInWorker(options: BuildIndexOptions = {}): IndexBuilder {
  const spec = specFrom(options);
  const common = commonOptions(options);
  const buildThreads = options.buildThreads ?? defaultWorkerThreads();
  checkPositiveInt('buildThreads', buildThreads, 1024);
  const d = spec.dimension;
  const build = new WorkerBuild(spec, buildThreads);
  const ids = new Set<number>();
  let failure: LookalikeError | undefined;
  let last: Promise<unknown> = Promise.resolve();
  let state: 'open' | 'finishing' | 'done' = 'open';
  const t0 = performance.now();

  const fail = (err: unknown): never => {
    failure ??= err instanceof LookalikeError ? err : internal(String(err));
    throw failure;
  };

  return {
    get added() {
      return ids.size;
    },
    add(chunkIds, vectors) {
      try {
        if (failure) throw failure;
        if (state !== 'open') throw internal('build: add after finish or abort');
        if (chunkIds.length !== vectors.length)
          throw internal(`build: ${chunkIds.length} ids but ${vectors.length} vectors`);
        checkNewIds(chunkIds, (id) => ids.has(id), 'build');
        for (let i = 0; i < vectors.length; i++) checkLength(vectors[i], d, `build: vector for id ${chunkIds[i]}`);
      } catch (err) {
        return Promise.reject(err);
      }
      if (chunkIds.length === 0) return Promise.resolve();
      for (const id of chunkIds) ids.add(id);
      const sent = build.add(Float64Array.from(chunkIds), pack(vectors, 0, vectors.length, d)).then(() => {}, fail);
      last = sent.catch(() => {});
      return sent;
    },
    async finish(opts = {}) {
      if (state !== 'open') throw internal('build: finish called twice or after abort');
      state = 'finishing';
      await last;
      if (failure) {
        await build.abort();
        throw failure;
      }
      const built = await build.finish(opts.saveTo);
      state = 'done';
      const index = new FaissVectorIndex({ ...common, spec, native: built.native, posToId: built.ids });
      common.logger.info(
        { kind: spec.kind, size: index.size(), saveTo: opts.saveTo, ms: Math.round(performance.now() - t0) },
        'index built in a worker',
      );
      return index;
    },
    async abort() {
      state = 'done';
      await build.abort();
    },
  };
}
