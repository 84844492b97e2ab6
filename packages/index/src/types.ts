/**
 * The public shapes of @lookalike/index. Distances are squared L2, as FAISS returns them.
 */
import type { Logger } from '@lookalike/core';

export type IndexKind = 'flat' | 'hnsw' | 'flat-sq8';

/**
 * flat-sq8's source of the exact vectors its candidates are re-ranked with (e.g. the catalog
 * store): the fp32 vector of each id, or undefined when it has none (then the 8-bit code's
 * decoded vector is used for that id).
 */
export type ExactVectors = (ids: readonly number[]) => readonly (Float32Array | undefined)[];

/** Search restrictions. */
export interface SearchFilter {
  /** Only ids for which this returns true are returned (exact scan over the allowed positions). */
  allow: (id: number) => boolean;
}

export interface CreateIndexOptions {
  /**
   * 'flat' (exact IndexFlatL2, the default), 'hnsw' (HNSW<M>,Flat) or 'flat-sq8' (8-bit codes,
   * a quarter of the memory, scanned with AVX2; the top `rerank` re-ranked with `exactVectors`).
   */
  kind?: IndexKind;
  /** flat-sq8: where the exact fp32 vectors for re-ranking come from (see ExactVectors). */
  exactVectors?: ExactVectors;
  /** flat-sq8: candidates re-ranked exactly per query (at least k). Default 64. */
  rerank?: number;
  /** Vector length; 2048 for ResNet50 embeddings. */
  dimension?: number;
  /** HNSW search breadth (ignored for flat). Default 96 (measured: recall@6 0.996, p50 1.9 ms at 44,441 × 2048). */
  efSearch?: number;
  /** HNSW graph degree (ignored for flat). Default 32. */
  M?: number;
  /** Max OpenMP threads for adds and batched searches on this thread (single queries use 1). Default: all cores. */
  threads?: number;
  /**
   * HNSW only: a background compaction starts when tombstones (removed items still stored in
   * FAISS) exceed this fraction of the stored vectors. Default 0.1; `false` never compacts on its
   * own (`compact()` still works).
   */
  compactAt?: number | false;
  /** OpenMP threads of the compaction worker. Default: all cores but one (at least 1). */
  compactThreads?: number;
  /**
   * createIndex only: vectors to make room for up front (e.g. the expected catalog size), so that
   * adds up to it never reallocate, i.e. never copy everything stored so far, on this thread.
   * Address space only until written. Loaded and worker-built indexes get room for 1.5× their size.
   */
  capacity?: number;
  logger?: Logger;
}

export interface LoadIndexOptions {
  /** When given, the file's dimension must match it (else INDEX_CORRUPT). */
  dimension?: number;
  /** Overrides the efSearch stored in the file (hnsw only). */
  efSearch?: number;
  /** As in CreateIndexOptions (flat-sq8). */
  exactVectors?: ExactVectors;
  /** As in CreateIndexOptions (flat-sq8). */
  rerank?: number;
  /** As in CreateIndexOptions. */
  threads?: number;
  /** As in CreateIndexOptions. */
  compactAt?: number | false;
  /** As in CreateIndexOptions. */
  compactThreads?: number;
  logger?: Logger;
}

export interface BuildIndexOptions extends Omit<CreateIndexOptions, 'threads' | 'capacity'> {
  /** OpenMP threads the worker builds with. Default: all cores but one (at least 1). */
  buildThreads?: number;
  /** `threads` of the resulting index (see CreateIndexOptions). Default: all cores. */
  threads?: number;
}

export interface SearchHit {
  id: number;
  /** Squared L2 distance. */
  distance: number;
}

export interface IndexStats {
  /** Searchable items (= size()). */
  live: number;
  /** Vectors FAISS stores: live items plus tombstones. */
  stored: number;
  /**
   * Removed items still stored, filtered out of results: HNSW until the next compaction; flat only
   * while a save reads its snapshot.
   */
  tombstones: number;
  /** True while a background compaction runs. */
  compacting: boolean;
  /** Compactions swapped in since this object was made. */
  compactions: number;
}

export interface VectorIndex {
  readonly kind: IndexKind;
  readonly dimension: number;
  /** HNSW graph degree (undefined for flat). */
  readonly M: number | undefined;
  /** Current HNSW efSearch (undefined for flat). */
  readonly efSearch: number | undefined;
  /**
   * Adds vectors under the given ids, searchable at once. Ids must be safe integers not live in
   * the index (a removed id may be added again, e.g. to update an item). All or nothing.
   */
  add(ids: readonly number[], vectors: readonly Float32Array[]): void;
  /**
   * Removes the ids that are live; returns how many were removed. Unknown ids are ignored.
   * Flat: the freed slots are filled with the last vectors (O(removed), no shift); while a save
   * is still reading its snapshot, the ids are tombstoned instead and freed when it is done.
   * HNSW: the ids are tombstoned (filtered out of results) and a compaction may start in the
   * background.
   */
  remove(ids: readonly number[]): number;
  /**
   * The k nearest live items, nearest first (ties: the earlier stored first); fewer only when
   * fewer than k are live (or allowed by `filter`). flat: exact, IndexFlatL2's own answer, at
   * memory bandwidth (OpenBLAS sgemv over FAISS's storage). flat-sq8: the 8-bit scan's top
   * `rerank`, re-ranked with the exact vectors. hnsw: approximate; with a filter, an exact scan of
   * the allowed items.
   */
  search(query: Float32Array, k: number, filter?: SearchFilter): SearchHit[];
  /** `search` for many queries in one native call per chunk (flat: one sgemm per group). */
  searchBatch(queries: readonly Float32Array[], k: number, filter?: SearchFilter): SearchHit[][];
  /** Live (searchable) items; tombstones are not counted. */
  size(): number;
  /** True for a live id; false for unknown and removed (tombstoned) ids. */
  has(id: number): boolean;
  /** The live ids, in FAISS position order (a copy). */
  ids(): number[];
  /** The stored vector of a live id (a copy), or undefined for unknown and removed ids. */
  vector(id: number): Float32Array | undefined;
  stats(): IndexStats;
  /**
   * Writes the index atomically (temp file + fsync + rename + directory fsync) as it is at the
   * time of the call. Hashing and writing run in a worker thread; searches, adds and removes go on
   * meanwhile. Flat: the vectors are read and sent to the worker in 8 MB chunks, one per turn.
   * HNSW: FAISS serializes the graph on this thread first (it changes in place on every add).
   * Saves of one index complete in call order.
   */
  save(path: string): Promise<void>;
  /** HNSW only: sets the search breadth (>= 1). */
  setEfSearch(n: number): void;
  /** HNSW: rebuilds without tombstones in a worker now (resolves when swapped in). Flat: resolves at once. */
  compact(): Promise<void>;
  /** Resolves when no compaction and no save of this index is running or due. */
  whenIdle(): Promise<void>;
  /**
   * Stops a running compaction (its work is dropped), waits for pending saves and turns automatic
   * compaction off. The index stays usable. Idempotent.
   */
  close(): Promise<void>;
}
