/**
 * Making a VectorIndex: empty (`createIndex`) or from a file written by `save` (`loadIndex`).
 */
import { availableParallelism } from 'node:os';
import { silentLogger } from '@lookalike/core';
import {
  checkCompactAt,
  checkKind,
  checkPositiveInt,
  DEFAULT_COMPACT_AT,
  DEFAULT_DIMENSION,
  DEFAULT_EF_SEARCH,
  DEFAULT_M,
  defaultWorkerThreads,
  internal,
} from './checks.js';
import { loadFaiss } from './faiss.js';
import { type NativeSpec, newNative } from './native.js';
import { readIndex } from './persistence.js';
import type { CreateIndexOptions, LoadIndexOptions, VectorIndex } from './types.js';
import { FaissVectorIndex, type IndexState } from './vector-index.js';

/** Checks and fills in the options every index shares. */
export function commonOptions(options: {
  threads?: number;
  compactAt?: number | false;
  compactThreads?: number;
  logger?: CreateIndexOptions['logger'];
  exactVectors?: CreateIndexOptions['exactVectors'];
  rerank?: number;
}): Pick<IndexState, 'threads' | 'compactAt' | 'compactThreads' | 'logger' | 'exactVectors' | 'rerank'> {
  const threads = options.threads ?? availableParallelism();
  checkPositiveInt('threads', threads, 1024);
  const compactThreads = options.compactThreads ?? defaultWorkerThreads();
  checkPositiveInt('compactThreads', compactThreads, 1024);
  if (options.rerank !== undefined) checkPositiveInt('rerank', options.rerank, 1 << 20);
  if (options.exactVectors !== undefined && typeof options.exactVectors !== 'function')
    throw internal('exactVectors must be a function (ids) => vectors');
  return {
    exactVectors: options.exactVectors,
    rerank: options.rerank,
    threads,
    compactThreads,
    compactAt: checkCompactAt(options.compactAt ?? DEFAULT_COMPACT_AT),
    logger: (options.logger ?? silentLogger).child({ component: 'index' }),
  };
}

/** Checks and fills in kind, dimension, M and efSearch. */
export function specFrom(options: Pick<CreateIndexOptions, 'kind' | 'dimension' | 'M' | 'efSearch'>): NativeSpec {
  const kind = checkKind(options.kind ?? 'flat');
  const dimension = options.dimension ?? DEFAULT_DIMENSION;
  checkPositiveInt('dimension', dimension, 1 << 16);
  if (kind !== 'hnsw') return { kind, dimension, M: undefined, efSearch: undefined };
  const M = options.M ?? DEFAULT_M;
  const efSearch = options.efSearch ?? DEFAULT_EF_SEARCH;
  checkPositiveInt('M', M, 512);
  checkPositiveInt('efSearch', efSearch, 1 << 20);
  return { kind, dimension, M, efSearch };
}

/** Creates an empty index. Throws FAISS_UNAVAILABLE when faiss-node cannot be loaded. */
export function createIndex(options: CreateIndexOptions = {}): VectorIndex {
  const spec = specFrom(options);
  const common = commonOptions(options);
  const native = newNative(loadFaiss(), spec);
  if (options.capacity !== undefined) {
    checkPositiveInt('capacity', options.capacity);
    native.reserve(options.capacity);
  }
  return new FaissVectorIndex({ ...common, spec, native, posToId: [] });
}

/**
 * Loads an index written by `save`, off the main thread: the worker reads the file, checks it
 * (length and SHA-256 before FAISS sees any byte) and deserializes it; this thread only takes the
 * native index over. Throws INDEX_CORRUPT for a damaged, truncated, foreign or unsupported-format
 * file, FAISS_UNAVAILABLE when faiss-node cannot be loaded, and INTERNAL when it cannot be read.
 */
export async function loadIndex(path: string, options: LoadIndexOptions = {}): Promise<VectorIndex> {
  const common = commonOptions(options);
  const t0 = performance.now();
  const r = await readIndex(path, options.dimension, options.efSearch);
  const h = r.header;
  const index = new FaissVectorIndex({
    ...common,
    spec: { kind: h.kind, dimension: h.dimension, M: h.M ?? undefined, efSearch: r.efSearch },
    native: r.native,
    posToId: r.ids,
  });
  common.logger.debug(
    { path, kind: h.kind, size: index.size(), stored: h.count, ms: Math.round(performance.now() - t0) },
    'index loaded',
  );
  return index;
}
