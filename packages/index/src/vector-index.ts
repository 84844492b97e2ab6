/**
 * The VectorIndex over one native FAISS index: ids <-> FAISS positions, incremental add and
 * remove, tombstones and background compaction for HNSW, snapshots for saving.
 *
 * `posToId[pos]` is the id stored at FAISS position `pos`, or NaN for a tombstone; `idToPos`
 * holds live ids only. A removed HNSW id may be added again: it gets a new position, and its old
 * one stays a tombstone until the next compaction.
 */
import type { Logger } from '@lookalike/core';
import {
  checkNewIds,
  checkPositiveInt,
  checkVector,
  chunkVectors,
  DEFAULT_EF_SEARCH,
  internal,
  pack,
} from './checks.js';
import { Compaction } from './compaction.js';
import { type FaissModule, loadFaiss, type NativeIndex, useThreads } from './faiss.js';
import { addPacked, type NativeSpec } from './native.js';
import { writeSnapshot, writeStreamedFlat } from './persistence.js';
import { rerankExact } from './rerank.js';
import type { ExactVectors, IndexKind, IndexStats, SearchFilter, SearchHit, VectorIndex } from './types.js';
import { ioWorker } from './worker-client.js';

export interface IndexState {
  spec: NativeSpec;
  native: NativeIndex;
  /** Per FAISS position: the id, or NaN for a tombstone. */
  posToId: ArrayLike<number>;
  threads: number;
  compactAt: number | false;
  compactThreads: number;
  logger: Logger;
  /** flat-sq8: the exact vectors candidates are re-ranked with. */
  exactVectors?: ExactVectors | undefined;
  /** flat-sq8: candidates re-ranked per query. */
  rerank?: number | undefined;
}

/** flat-sq8 candidates re-ranked exactly per query unless told otherwise. */
export const DEFAULT_RERANK = 64;

/** Positions appended during a compaction that may be left to add on this thread at swap time. */
const COMPACTION_TAIL = 64;
/** Bytes of vectors read per event-loop turn when streaming to a worker (compaction, flat saves). */
const STREAM_CHUNK_BYTES = 8 << 20;

export class FaissVectorIndex implements VectorIndex {
  readonly kind: IndexKind;
  readonly dimension: number;
  readonly M: number | undefined;
  #efSearch: number | undefined;
  #native: NativeIndex;
  #posToId: number[];
  #idToPos: Map<number, number>;
  readonly #faiss: FaissModule;
  readonly #threads: number;
  readonly #compactThreads: number;
  #compactAt: number | false;
  readonly #log: Logger;
  #compaction: { job: Compaction; done: Promise<void> } | undefined;
  #compactions = 0;
  #saving: Promise<unknown> = Promise.resolve();
  #savesPending = 0;
  #closing = false;
  /** Flat saves whose snapshot is still being read: removals tombstone until the last one is done. */
  #frozen = 0;
  readonly #exactVectors: ExactVectors | undefined;
  readonly #rerank: number;

  constructor(s: IndexState) {
    this.#faiss = loadFaiss();
    this.kind = s.spec.kind;
    this.dimension = s.spec.dimension;
    this.M = s.spec.M;
    this.#efSearch = s.spec.efSearch;
    this.#native = s.native;
    this.#threads = s.threads;
    this.#compactAt = s.compactAt;
    this.#compactThreads = s.compactThreads;
    this.#log = s.logger;
    this.#exactVectors = s.exactVectors;
    this.#rerank = s.rerank ?? DEFAULT_RERANK;
    checkPositiveInt('rerank', this.#rerank, 1 << 20);
    this.#posToId = Array.from(s.posToId);
    this.#idToPos = new Map();
    this.#posToId.forEach((id, pos) => {
      if (!Number.isNaN(id)) this.#idToPos.set(id, pos);
    });
    if (this.kind !== 'hnsw' && this.#idToPos.size !== this.#posToId.length)
      throw internal(`a ${this.kind} index cannot hold tombstones`);
  }

  get efSearch(): number | undefined {
    return this.#efSearch;
  }

  size(): number {
    return this.#idToPos.size;
  }

  has(id: number): boolean {
    return this.#idToPos.has(id);
  }

  ids(): number[] {
    return this.#posToId.filter((id) => !Number.isNaN(id));
  }

  vector(id: number): Float32Array | undefined {
    const pos = this.#idToPos.get(id);
    if (pos === undefined) return undefined;
    const exact = this.kind === 'flat-sq8' ? this.#exactVectors?.([id])[0] : undefined;
    return exact ? Float32Array.from(exact) : this.#native.reconstructBatch(pos, 1);
  }

  stats(): IndexStats {
    return {
      live: this.#idToPos.size,
      stored: this.#posToId.length,
      tombstones: this.#posToId.length - this.#idToPos.size,
      compacting: this.#compaction !== undefined,
      compactions: this.#compactions,
    };
  }

  setEfSearch(n: number): void {
    if (this.kind !== 'hnsw') throw internal('setEfSearch applies to hnsw indexes only');
    checkPositiveInt('efSearch', n, 1 << 20);
    this.#native.setEfSearch(n);
    this.#efSearch = n;
  }

  add(ids: readonly number[], vectors: readonly Float32Array[]): void {
    if (ids.length !== vectors.length) throw internal(`add: ${ids.length} ids but ${vectors.length} vectors`);
    if (ids.length === 0) return;
    checkNewIds(ids, (id) => this.#idToPos.has(id), 'add');
    for (let i = 0; i < ids.length; i++) checkVector(vectors[i], this.dimension, `add: vector for id ${ids[i]}`);
    const t0 = performance.now();
    const before = this.#native.ntotal();
    const per = chunkVectors(this.dimension);
    for (let from = 0; from < vectors.length; from += per) {
      const to = Math.min(vectors.length, from + per);
      addPacked(this.#faiss, this.#native, pack(vectors, from, to, this.dimension), this.dimension, this.#threads);
    }
    if (this.#native.ntotal() !== before + ids.length) {
      throw internal(`add: FAISS holds ${this.#native.ntotal()} vectors, expected ${before + ids.length}`);
    }
    for (const id of ids) {
      this.#idToPos.set(id, this.#posToId.length);
      this.#posToId.push(id);
    }
    this.#log.debug({ added: ids.length, size: this.size(), ms: Math.round(performance.now() - t0) }, 'vectors added');
  }

  remove(ids: readonly number[]): number {
    const positions: number[] = [];
    for (const id of new Set(ids)) {
      const pos = this.#idToPos.get(id);
      if (pos !== undefined) positions.push(pos);
    }
    if (positions.length === 0) return 0;
    const t0 = performance.now();
    for (const pos of positions) this.#idToPos.delete(this.#posToId[pos] as number);
    if (this.kind !== 'hnsw' && this.#frozen === 0) this.#swapOut(positions);
    else for (const pos of positions) this.#posToId[pos] = Number.NaN;
    this.#log.debug(
      { removed: positions.length, ...this.stats(), kind: this.kind, ms: Math.round(performance.now() - t0) },
      'vectors removed',
    );
    this.#maybeCompact();
    return positions.length;
  }

  /**
   * Flat: frees `positions` (already gone from idToPos) with the patched removeSwapLast, which
   * fills each slot with the last vector, largest position first; the same moves are mirrored here.
   */
  #swapOut(positions: number[]): void {
    const removed = this.#native.removeSwapLast(positions);
    positions.sort((a, b) => b - a);
    for (const pos of positions) {
      const last = this.#posToId.length - 1;
      if (pos !== last) {
        const moved = this.#posToId[last] as number;
        this.#posToId[pos] = moved;
        this.#idToPos.set(moved, pos);
      }
      this.#posToId.pop();
    }
    if (removed !== positions.length || this.#native.ntotal() !== this.#posToId.length) {
      throw internal(`remove: FAISS removed ${removed} of ${positions.length}`);
    }
  }

  /** Flat, once no save reads the snapshot any more: removes the tombstones left meanwhile. */
  #unfreeze(): void {
    this.#frozen--;
    if (this.#frozen > 0) return;
    const dead: number[] = [];
    this.#posToId.forEach((id, pos) => {
      if (Number.isNaN(id)) dead.push(pos);
    });
    if (dead.length > 0) this.#swapOut(dead);
  }

  #streamChunk(): number {
    return Math.max(1, Math.floor(STREAM_CHUNK_BYTES / (4 * this.dimension)));
  }

  search(query: Float32Array, k: number, filter?: SearchFilter): SearchHit[] {
    return this.searchBatch([query], k, filter)[0] ?? [];
  }

  searchBatch(queries: readonly Float32Array[], k: number, filter?: SearchFilter): SearchHit[][] {
    if (!Number.isInteger(k) || k < 0) throw internal(`search: k must be a non-negative integer, got ${k}`);
    for (let i = 0; i < queries.length; i++) checkVector(queries[i], this.dimension, `search: query ${i}`);
    const live = this.#idToPos.size;
    const want = Math.min(k, live);
    const out: SearchHit[][] = queries.map(() => []);
    if (want === 0) return out;
    if (filter !== undefined) {
      const bits = this.#allowedBits(filter);
      this.#searchInto(
        queries,
        queries.map((_, i) => i),
        want,
        want,
        out,
        bits,
      );
      return out;
    }
    const stored = this.#posToId.length;
    // Over-fetch so that k live items remain once tombstones are dropped; queries that still come
    // up short (tombstones bunched near them) are asked again with a wider net.
    let fetch = stored === live ? want : Math.min(stored, Math.ceil((want * stored * 1.25) / live) + 4);
    let todo = queries.map((_, i) => i);
    for (;;) {
      this.#searchInto(queries, todo, fetch, want, out);
      if (fetch >= stored) break;
      todo = todo.filter((i) => (out[i] as SearchHit[]).length < want);
      if (todo.length === 0) break;
      fetch = Math.min(stored, fetch * 4);
    }
    return out;
  }

  /** Bitmap of the positions holding a live id the filter allows. */
  #allowedBits(filter: SearchFilter): Uint8Array {
    const n = this.#posToId.length;
    const bits = new Uint8Array((n + 7) >> 3);
    for (let pos = 0; pos < n; pos++) {
      const id = this.#posToId[pos] as number;
      if (!Number.isNaN(id) && filter.allow(id)) bits[pos >> 3] = (bits[pos >> 3] as number) | (1 << (pos & 7));
    }
    return bits;
  }

  /** One native search: exact scan (flat, filtered hnsw), graph (hnsw), code scan + re-rank (flat-sq8). */
  #nativeSearch(x: Float32Array, fetch: number, bits: Uint8Array | undefined) {
    if (this.kind === 'hnsw' && bits === undefined) return this.#native.searchFloat32(x, fetch);
    if (this.kind !== 'flat-sq8') return this.#native.searchScan(x, fetch, bits);
    const r = this.#native.searchScan(x, Math.max(fetch, this.#rerank), bits);
    return rerankExact(x, this.dimension, r, fetch, {
      idAt: (pos) => this.#posToId[pos] as number,
      exact: this.#exactVectors,
      decoded: (pos) => this.#native.reconstructBatch(pos, 1),
    });
  }

  #searchInto(
    queries: readonly Float32Array[],
    which: number[],
    fetch: number,
    want: number,
    out: SearchHit[][],
    bits?: Uint8Array,
  ) {
    useThreads(this.#faiss, which.length > 1 ? this.#threads : 1);
    const d = this.dimension;
    const per = chunkVectors(d);
    for (let from = 0; from < which.length; from += per) {
      const part = which.slice(from, from + per);
      const x = part.length === 1 ? (queries[part[0] as number] as Float32Array) : new Float32Array(part.length * d);
      if (part.length > 1) {
        for (const [j, qi] of part.entries()) x.set(queries[qi] as Float32Array, j * d);
      }
      const r = this.#nativeSearch(x, fetch, bits);
      part.forEach((qi, j) => {
        const hits: SearchHit[] = [];
        for (let m = j * fetch; m < (j + 1) * fetch && hits.length < want; m++) {
          const label = r.labels[m] as number;
          if (label < 0) continue; // FAISS pads missing results with -1
          const id = this.#posToId[label];
          if (id === undefined) throw internal(`search: FAISS returned unknown position ${label}`);
          if (Number.isNaN(id)) continue; // tombstone
          hits.push({ id, distance: r.distances[m] as number });
        }
        out[qi] = hits;
      });
    }
  }

  save(path: string): Promise<void> {
    const t0 = performance.now();
    const write = this.kind === 'flat' ? this.#flatSnapshot(path) : this.#bufferSnapshot(path);
    const snapshotMs = performance.now() - t0;
    this.#savesPending++;
    const run = this.#saving
      .catch(() => {})
      .then(write)
      .finally(() => this.#savesPending--);
    this.#saving = run;
    return run.then((bytes) => {
      this.#log.debug(
        { path, bytes, snapshotMs: Math.round(snapshotMs), ms: Math.round(performance.now() - t0) },
        'index saved',
      );
    });
  }

  #spec(): NativeSpec {
    return { kind: this.kind, dimension: this.dimension, M: this.M, efSearch: this.#efSearch };
  }

  /**
   * HNSW: FAISS's serialization, now, on this thread (the graph changes in place on every add).
   * flat-sq8: its codes (a quarter of the fp32 size), copied now.
   */
  #bufferSnapshot(path: string): () => Promise<number> {
    const snapshot = {
      spec: this.#spec(),
      live: this.#idToPos.size,
      ids: Float64Array.from(this.#posToId),
      faiss: this.#native.toBuffer(),
    };
    return () => writeSnapshot(path, snapshot);
  }

  /**
   * Flat: the live positions and ids now; the vectors are read later, one chunk per turn, and
   * streamed to the worker. Until then the stored vectors must not move: adds only append, and
   * removals tombstone instead of swapping (see #unfreeze).
   */
  #flatSnapshot(path: string): () => Promise<number> {
    const n = this.#posToId.length;
    const keep = new Uint8Array(n);
    const ids: number[] = [];
    for (let pos = 0; pos < n; pos++) {
      const id = this.#posToId[pos] as number;
      if (Number.isNaN(id)) continue;
      keep[pos] = 1;
      ids.push(id);
    }
    const snapshot = { spec: this.#spec(), live: ids.length, ids: Float64Array.from(ids) };
    const d = this.dimension;
    const per = this.#streamChunk();
    let cursor = 0;
    const next = (): Float32Array | undefined => {
      while (cursor < n) {
        const from = cursor;
        const count = Math.min(per, n - from);
        cursor += count;
        let kept = 0;
        for (let i = from; i < from + count; i++) kept += keep[i] as number;
        if (kept === 0) continue;
        const block = this.#native.reconstructBatch(from, count);
        if (kept === count) return block;
        const out = new Float32Array(kept * d);
        for (let i = from, j = 0; i < from + count; i++) {
          if (keep[i]) out.set(block.subarray((i - from) * d, (i - from + 1) * d), d * j++);
        }
        return out;
      }
      return undefined;
    };
    this.#frozen++;
    let thawed = false;
    const thaw = () => {
      if (thawed) return;
      thawed = true;
      this.#unfreeze();
    };
    return () => writeStreamedFlat(path, snapshot, next, thaw).finally(thaw);
  }

  async compact(): Promise<void> {
    if (this.kind !== 'hnsw') return;
    while (this.#compaction) await this.#compaction.done;
    if (this.#posToId.length > this.#idToPos.size) await this.#startCompaction().done;
  }

  async whenIdle(): Promise<void> {
    while (this.#compaction || this.#savesPending > 0) {
      await Promise.allSettled([this.#compaction?.done, this.#saving]);
    }
  }

  async close(): Promise<void> {
    this.#compactAt = false;
    this.#closing = true;
    const c = this.#compaction;
    if (c) {
      await c.job.abort();
      await c.done;
    }
    await this.whenIdle();
  }

  #maybeCompact(): void {
    if (this.kind !== 'hnsw' || this.#compaction || this.#compactAt === false) return;
    const tombstones = this.#posToId.length - this.#idToPos.size;
    if (tombstones > 0 && tombstones > this.#compactAt * this.#posToId.length) this.#startCompaction();
  }

  #startCompaction(): { job: Compaction; done: Promise<void> } {
    const t0 = performance.now();
    const source = this.#native;
    const job = new Compaction(
      {
        native: source,
        stored: () => this.#posToId.length,
        isLive: (pos) => !Number.isNaN(this.#posToId[pos] as number),
      },
      {
        spec: { ...this.#spec(), efSearch: this.#efSearch ?? DEFAULT_EF_SEARCH },
        threads: this.#compactThreads,
        tailThreads: this.#threads,
        chunk: this.#streamChunk(),
        tail: COMPACTION_TAIL,
        logger: this.#log,
      },
    );
    const before = this.stats();
    this.#log.info(
      { live: before.live, stored: before.stored, tombstones: before.tombstones },
      'hnsw compaction started',
    );
    let swapped = false;
    const done = job.ready
      .then((ready) => {
        if (this.#native !== source) throw internal('compaction: the index was swapped meanwhile');
        const t1 = performance.now();
        const { native, oldPositions } = ready.complete();
        native.setEfSearch(this.#efSearch ?? DEFAULT_EF_SEARCH);
        const posToId = oldPositions.map((p) => this.#posToId[p] as number);
        const idToPos = new Map<number, number>();
        posToId.forEach((id, pos) => {
          if (!Number.isNaN(id)) idToPos.set(id, pos);
        });
        if (idToPos.size !== this.#idToPos.size) {
          freeNative(this.#faiss, native);
          throw internal(`compaction lost items: ${idToPos.size} live after, ${this.#idToPos.size} before`);
        }
        this.#native = native;
        this.#posToId = posToId;
        this.#idToPos = idToPos;
        this.#compactions++;
        swapped = true;
        freeNative(this.#faiss, source);
        this.#log.info(
          {
            live: idToPos.size,
            stored: posToId.length,
            tombstones: posToId.length - idToPos.size,
            tombstonesBefore: before.tombstones,
            ms: Math.round(performance.now() - t0),
            swapMs: Math.round(performance.now() - t1),
          },
          'hnsw compaction swapped in',
        );
      })
      .catch((err: unknown) => {
        if (this.#closing) this.#log.debug({ err }, 'hnsw compaction stopped by close()');
        else this.#log.warn({ err }, 'hnsw compaction did not finish; tombstones stay until the next one');
      })
      .finally(() => {
        if (this.#compaction?.job === job) this.#compaction = undefined;
        // Removes made during the run may call for another one; after a failure, wait for the next remove.
        if (swapped) this.#maybeCompact();
      });
    this.#compaction = { job, done };
    return this.#compaction;
  }
}

/**
 * Frees a replaced native index now instead of whenever its small JS wrapper is collected, and in
 * the io worker: unmapping 360 MB takes tens of milliseconds.
 */
function freeNative(faiss: FaissModule, native: NativeIndex): void {
  const handle = native.exportHandle();
  ioWorker()
    .call({ type: 'release', handle })
    .catch(() => faiss.Index.releaseHandle(handle));
}
