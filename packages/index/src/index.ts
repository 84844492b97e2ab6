/**
 * @lookalike/index: an exact (IndexFlatL2) or approximate (HNSW) vector index over FAISS,
 * through faiss-node 0.5.1 built with the lookalike patch (see ../README.md).
 *
 * Callers work with `Float32Array` vectors and their own integer ids; faiss-node works with plain
 * JS arrays and positional labels, so this module converts at the boundary (in chunks) and keeps
 * the id <-> position mapping. Distances are squared L2, as FAISS returns them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { type Logger, LookalikeError, silentLogger } from '@lookalike/core';

export type IndexKind = 'flat' | 'hnsw';

export interface CreateIndexOptions {
  /** 'flat' (exact IndexFlatL2, the default) or 'hnsw' (HNSW<M>,Flat). */
  kind?: IndexKind;
  /** Vector length; 2048 for ResNet50 embeddings. */
  dimension?: number;
  /** HNSW search breadth (ignored for flat). Default 96 (measured: recall@6 0.996, p50 1.9 ms at 44,441 × 2048). */
  efSearch?: number;
  /** HNSW graph degree (ignored for flat). Default 32. */
  M?: number;
  /** Max OpenMP threads for adds and batched searches (single queries use 1). Default: all cores. */
  threads?: number;
  logger?: Logger;
}

export interface LoadIndexOptions {
  /** When given, the file's dimension must match it (else INDEX_CORRUPT). */
  dimension?: number;
  /** Overrides the efSearch stored in the file (hnsw only). */
  efSearch?: number;
  /** As in CreateIndexOptions. */
  threads?: number;
  logger?: Logger;
}

export interface SearchHit {
  id: number;
  /** Squared L2 distance. */
  distance: number;
}

export interface VectorIndex {
  readonly kind: IndexKind;
  readonly dimension: number;
  /** HNSW graph degree (undefined for flat). */
  readonly M: number | undefined;
  /** Current HNSW efSearch (undefined for flat). */
  readonly efSearch: number | undefined;
  /** Adds vectors under the given ids. Ids must be safe integers not already in the index. */
  add(ids: readonly number[], vectors: readonly Float32Array[]): void;
  /** Removes the ids that are present; returns how many were removed. Unknown ids are ignored. */
  remove(ids: readonly number[]): number;
  /** The k nearest items, nearest first; fewer when the index holds fewer than k. */
  search(query: Float32Array, k: number): SearchHit[];
  /** `search` for many queries in one native call per chunk. */
  searchBatch(queries: readonly Float32Array[], k: number): SearchHit[][];
  size(): number;
  has(id: number): boolean;
  /** The ids in the index, in FAISS position order (a copy). */
  ids(): number[];
  /** Writes the index atomically (temp file + fsync + rename). */
  save(path: string): Promise<void>;
  /** HNSW only: sets the search breadth (>= 1). */
  setEfSearch(n: number): void;
}

// ---------------------------------------------------------------------------------------------
// faiss-node, loaded lazily

interface NativeIndex {
  ntotal(): number;
  getDimension(): number;
  add(x: number[]): void;
  search(x: number[], k: number): { distances: number[]; labels: number[] };
  removeIds(ids: number[]): number;
  toBuffer(): Buffer;
  // Added by packages/index/native/faiss-node-lookalike.patch:
  setEfSearch(n: number): void;
  getEfSearch(): number;
  reconstructBatch(start: number, n: number): Float32Array;
}

interface FaissModule {
  setNumThreads(n: number): void;
  getNumThreads(): number;
  Index: {
    new (d: number): NativeIndex;
    fromFactory(d: number, description: string): NativeIndex;
    fromBuffer(buf: Buffer): NativeIndex;
    prototype: Partial<NativeIndex>;
  };
}

const SETUP_HINT =
  'Run `npm run setup` (or `node scripts/setup-faiss.mjs`) to build faiss-node against the system FAISS.';
let faissCache: FaissModule | undefined;

function loadFaiss(): FaissModule {
  if (faissCache) return faissCache;
  let mod: FaissModule;
  try {
    mod = createRequire(import.meta.url)('faiss-node') as FaissModule;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new LookalikeError('FAISS_UNAVAILABLE', `faiss-node could not be loaded (${why}). ${SETUP_HINT}`, { cause });
  }
  const proto = mod.Index?.prototype;
  if (
    typeof proto?.setEfSearch !== 'function' ||
    typeof proto.reconstructBatch !== 'function' ||
    typeof mod.setNumThreads !== 'function'
  ) {
    throw new LookalikeError(
      'FAISS_UNAVAILABLE',
      `faiss-node is installed but lacks the lookalike patch (setEfSearch, reconstructBatch, setNumThreads). ${SETUP_HINT}`,
    );
  }
  faissCache = mod;
  return mod;
}

/** Whether faiss-node (with the lookalike patch) can be loaded here; never throws. */
export function faissStatus(): { ok: true } | { ok: false; reason: string } {
  try {
    loadFaiss();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

const DEFAULT_DIMENSION = 2048;
const DEFAULT_EF_SEARCH = 96;
const DEFAULT_M = 32;
/** Numbers per plain-array chunk handed to faiss-node (8 MB of doubles). */
const CHUNK_NUMBERS = 1 << 20;

function internal(message: string, details?: Record<string, unknown>): LookalikeError {
  return new LookalikeError('INTERNAL', message, details ? { details } : {});
}

function checkPositiveInt(name: string, v: number, max = 1 << 30): void {
  if (!Number.isInteger(v) || v < 1 || v > max) throw internal(`${name} must be an integer in 1..${max}, got ${v}`);
}

function checkVector(v: Float32Array | undefined, dimension: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw internal(`${what} must be a Float32Array`);
  if (v.length !== dimension)
    throw internal(`${what} has length ${v.length}, expected ${dimension}`, { dimension, got: v.length });
  for (let j = 0; j < dimension; j++) {
    if (!Number.isFinite(v[j] as number)) throw internal(`${what} has a non-finite value at ${j}`);
  }
  return v;
}

/** Copies (already validated) vectors into one plain array, faiss-node's input type. */
function toPlain(
  vectors: readonly Float32Array[],
  from: number,
  to: number,
  dimension: number,
  out: number[],
): number[] {
  out.length = (to - from) * dimension;
  let o = 0;
  for (let i = from; i < to; i++) {
    const v = vectors[i] as Float32Array;
    for (let j = 0; j < dimension; j++) out[o++] = v[j] as number;
  }
  return out;
}

function addInChunks(native: NativeIndex, vectors: readonly Float32Array[], dimension: number): void {
  const per = Math.max(1, Math.floor(CHUNK_NUMBERS / dimension));
  const buf: number[] = [];
  for (let from = 0; from < vectors.length; from += per) {
    const to = Math.min(vectors.length, from + per);
    native.add(toPlain(vectors, from, to, dimension, buf));
  }
}

/**
 * OpenMP threads for the next FAISS call. A single query runs on one thread: FAISS's HNSW search
 * opens a parallel region even for one query, and on a busy machine waiting for the second thread
 * costs far more than the search itself. Batches and adds use `max` threads.
 */
let currentThreads = 0;
function useThreads(faiss: FaissModule, n: number): void {
  if (n !== currentThreads) {
    faiss.setNumThreads(n);
    currentThreads = n;
  }
}

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// the index

interface State {
  kind: IndexKind;
  dimension: number;
  M: number | undefined;
  efSearch: number | undefined;
  native: NativeIndex;
  posToId: number[];
  threads: number;
  logger: Logger;
}

class FaissVectorIndex implements VectorIndex {
  readonly kind: IndexKind;
  readonly dimension: number;
  readonly M: number | undefined;
  #efSearch: number | undefined;
  #native: NativeIndex;
  #posToId: number[];
  #idToPos: Map<number, number>;
  readonly #log: Logger;
  readonly #threads: number;
  readonly #faiss: FaissModule;

  constructor(s: State) {
    this.#threads = s.threads;
    this.#faiss = loadFaiss();
    this.kind = s.kind;
    this.dimension = s.dimension;
    this.M = s.M;
    this.#efSearch = s.efSearch;
    this.#native = s.native;
    this.#posToId = s.posToId;
    this.#idToPos = new Map(s.posToId.map((id, pos) => [id, pos]));
    this.#log = s.logger;
    if (this.#idToPos.size !== s.posToId.length)
      throw new LookalikeError('INDEX_CORRUPT', 'index id mapping has duplicate ids');
  }

  get efSearch(): number | undefined {
    return this.#efSearch;
  }

  size(): number {
    return this.#posToId.length;
  }

  has(id: number): boolean {
    return this.#idToPos.has(id);
  }

  ids(): number[] {
    return this.#posToId.slice();
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
    const seen = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!Number.isSafeInteger(id)) throw internal(`add: id ${id} is not a safe integer`);
      if (this.#idToPos.has(id) || seen.has(id)) throw internal(`add: id ${id} is already in the index`, { id });
      seen.add(id);
      checkVector(vectors[i], this.dimension, `add: vector for id ${id}`);
    }
    const t0 = performance.now();
    const before = this.#native.ntotal();
    useThreads(this.#faiss, this.#threads);
    addInChunks(this.#native, vectors, this.dimension);
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
    const drop = new Set<number>();
    for (const id of ids) if (this.#idToPos.has(id)) drop.add(id);
    if (drop.size === 0) return 0;
    const t0 = performance.now();
    useThreads(this.#faiss, this.#threads);
    const keptIds = this.#posToId.filter((id) => !drop.has(id));
    if (this.kind === 'flat') {
      // IndexFlatL2.remove_ids compacts storage and keeps the order of the remaining vectors,
      // so the new position of each kept id is its rank among the kept ids.
      const positions = [...drop].map((id) => this.#idToPos.get(id) as number).sort((a, b) => a - b);
      const removed = this.#native.removeIds(positions);
      if (removed !== drop.size || this.#native.ntotal() !== keptIds.length) {
        throw internal(`remove: FAISS removed ${removed} of ${drop.size}`);
      }
    } else {
      // HNSW cannot delete: rebuild the graph from the kept vectors, read back from FAISS.
      this.#native = this.#rebuildHnswWithout(drop);
    }
    this.#posToId = keptIds;
    this.#idToPos = new Map(keptIds.map((id, pos) => [id, pos]));
    this.#log.debug(
      { removed: drop.size, size: this.size(), kind: this.kind, ms: Math.round(performance.now() - t0) },
      'vectors removed',
    );
    return drop.size;
  }

  #rebuildHnswWithout(drop: Set<number>): NativeIndex {
    const d = this.dimension;
    const next = this.#faiss.Index.fromFactory(d, `HNSW${this.M ?? DEFAULT_M},Flat`);
    next.setEfSearch(this.#efSearch ?? DEFAULT_EF_SEARCH);
    const per = Math.max(1, Math.floor(CHUNK_NUMBERS / d));
    const total = this.#posToId.length;
    const kept: Float32Array[] = [];
    for (let start = 0; start < total; start += per) {
      const n = Math.min(per, total - start);
      const block = this.#native.reconstructBatch(start, n);
      for (let i = 0; i < n; i++) {
        if (!drop.has(this.#posToId[start + i] as number)) kept.push(block.subarray(i * d, (i + 1) * d));
      }
      if (kept.length >= per) addInChunks(next, kept.splice(0, kept.length), d);
    }
    addInChunks(next, kept, d);
    return next;
  }

  search(query: Float32Array, k: number): SearchHit[] {
    return this.searchBatch([query], k)[0] ?? [];
  }

  searchBatch(queries: readonly Float32Array[], k: number): SearchHit[][] {
    if (!Number.isInteger(k) || k < 0) throw internal(`search: k must be a non-negative integer, got ${k}`);
    for (let i = 0; i < queries.length; i++) checkVector(queries[i], this.dimension, `search: query ${i}`);
    const kk = Math.min(k, this.#posToId.length);
    if (kk === 0) return queries.map(() => []);
    useThreads(this.#faiss, queries.length > 1 ? this.#threads : 1);
    const out: SearchHit[][] = [];
    const per = Math.max(1, Math.floor(CHUNK_NUMBERS / this.dimension));
    const buf: number[] = [];
    for (let from = 0; from < queries.length; from += per) {
      const to = Math.min(queries.length, from + per);
      const r = this.#native.search(toPlain(queries, from, to, this.dimension, buf), kk);
      for (let q = 0; q < to - from; q++) {
        const hits: SearchHit[] = [];
        for (let j = q * kk; j < (q + 1) * kk; j++) {
          const label = r.labels[j] as number;
          if (label < 0) continue; // FAISS pads missing results with -1
          const id = this.#posToId[label];
          if (id === undefined) throw internal(`search: FAISS returned unknown position ${label}`);
          hits.push({ id, distance: r.distances[j] as number });
        }
        out.push(hits);
      }
    }
    return out;
  }

  async save(path: string): Promise<void> {
    const t0 = performance.now();
    const faissBytes = this.#native.toBuffer();
    const ids = Buffer.from(Float64Array.from(this.#posToId).buffer);
    const header: FileHeader = {
      format: FORMAT_VERSION,
      kind: this.kind,
      dimension: this.dimension,
      count: this.#posToId.length,
      M: this.M ?? null,
      efSearch: this.#efSearch ?? null,
      idsBytes: ids.length,
      faissBytes: faissBytes.length,
      idsSha256: sha256(ids),
      faissSha256: sha256(faissBytes),
    };
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const lead = Buffer.alloc(MAGIC.length + 4);
    lead.write(MAGIC, 0, 'latin1');
    lead.writeUInt32LE(headerBytes.length, MAGIC.length);
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const fh = await open(tmp, 'w');
      try {
        for (const part of [lead, headerBytes, ids, faissBytes]) {
          let off = 0;
          while (off < part.length) off += (await fh.write(part, off, part.length - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new LookalikeError('INTERNAL', `could not save index to ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await syncDir(dirname(path));
    this.#log.debug(
      {
        path,
        bytes: lead.length + headerBytes.length + ids.length + faissBytes.length,
        ms: Math.round(performance.now() - t0),
      },
      'index saved',
    );
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort: some filesystems refuse fsync on directories
  }
}

// ---------------------------------------------------------------------------------------------
// file format: MAGIC | u32 LE header length | header JSON | ids (float64 LE) | FAISS bytes

const MAGIC = 'LKLIDX01';
const FORMAT_VERSION = 1;

interface FileHeader {
  format: number;
  kind: IndexKind;
  dimension: number;
  count: number;
  M: number | null;
  efSearch: number | null;
  idsBytes: number;
  faissBytes: number;
  idsSha256: string;
  faissSha256: string;
}

function corrupt(path: string, why: string, cause?: unknown): LookalikeError {
  return new LookalikeError('INDEX_CORRUPT', `index file ${path} is corrupt or truncated: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { path },
  });
}

function parseHeader(path: string, raw: unknown): FileHeader {
  const h = raw as Partial<FileHeader> | null;
  const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    !h ||
    h.format !== FORMAT_VERSION ||
    (h.kind !== 'flat' && h.kind !== 'hnsw') ||
    !int(h.dimension) ||
    !int(h.count) ||
    !int(h.idsBytes) ||
    !int(h.faissBytes) ||
    typeof h.idsSha256 !== 'string' ||
    typeof h.faissSha256 !== 'string' ||
    (h.M !== null && !int(h.M)) ||
    (h.efSearch !== null && !int(h.efSearch)) ||
    h.idsBytes !== (h.count as number) * 8
  ) {
    throw corrupt(path, 'bad header');
  }
  return h as FileHeader;
}

/** Creates an empty index. Throws FAISS_UNAVAILABLE when faiss-node cannot be loaded. */
export function createIndex(options: CreateIndexOptions = {}): VectorIndex {
  const kind = options.kind ?? 'flat';
  if (kind !== 'flat' && kind !== 'hnsw') throw internal(`unknown index kind ${String(kind)}`);
  const dimension = options.dimension ?? DEFAULT_DIMENSION;
  checkPositiveInt('dimension', dimension, 1 << 16);
  const logger = (options.logger ?? silentLogger).child({ component: 'index' });
  const threads = options.threads ?? availableParallelism();
  checkPositiveInt('threads', threads, 1024);
  const faiss = loadFaiss();
  if (kind === 'flat') {
    return new FaissVectorIndex({
      kind,
      dimension,
      M: undefined,
      efSearch: undefined,
      native: new faiss.Index(dimension),
      posToId: [],
      threads,
      logger,
    });
  }
  const M = options.M ?? DEFAULT_M;
  const efSearch = options.efSearch ?? DEFAULT_EF_SEARCH;
  checkPositiveInt('M', M, 512);
  checkPositiveInt('efSearch', efSearch, 1 << 20);
  const native = faiss.Index.fromFactory(dimension, `HNSW${M},Flat`);
  native.setEfSearch(efSearch);
  return new FaissVectorIndex({ kind, dimension, M, efSearch, native, posToId: [], threads, logger });
}

/**
 * Loads an index written by `save`. Throws INDEX_CORRUPT for a damaged, truncated or foreign
 * file (checked by length and SHA-256 before FAISS sees any byte), FAISS_UNAVAILABLE when
 * faiss-node cannot be loaded, and INTERNAL when the file cannot be read.
 */
export async function loadIndex(path: string, options: LoadIndexOptions = {}): Promise<VectorIndex> {
  const logger = (options.logger ?? silentLogger).child({ component: 'index' });
  const threads = options.threads ?? availableParallelism();
  checkPositiveInt('threads', threads, 1024);
  const faiss = loadFaiss();
  const t0 = performance.now();
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (err) {
    throw new LookalikeError('INTERNAL', `could not read index file ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  const lead = MAGIC.length + 4;
  if (file.length < lead || file.toString('latin1', 0, MAGIC.length) !== MAGIC)
    throw corrupt(path, 'not a lookalike index file');
  const headerLen = file.readUInt32LE(MAGIC.length);
  if (lead + headerLen > file.length) throw corrupt(path, 'header runs past the end of the file');
  let rawHeader: unknown;
  try {
    rawHeader = JSON.parse(file.toString('utf8', lead, lead + headerLen));
  } catch (err) {
    throw corrupt(path, 'header is not JSON', err);
  }
  const h = parseHeader(path, rawHeader);
  const idsStart = lead + headerLen;
  const faissStart = idsStart + h.idsBytes;
  if (faissStart + h.faissBytes !== file.length) {
    throw corrupt(path, `expected ${faissStart + h.faissBytes} bytes, found ${file.length}`);
  }
  const idsBuf = file.subarray(idsStart, faissStart);
  const faissBuf = file.subarray(faissStart);
  if (sha256(idsBuf) !== h.idsSha256 || sha256(faissBuf) !== h.faissSha256) throw corrupt(path, 'checksum mismatch');
  if (options.dimension !== undefined && options.dimension !== h.dimension) {
    throw corrupt(path, `dimension ${h.dimension}, expected ${options.dimension}`);
  }
  const ids = new Float64Array(h.count);
  Buffer.from(ids.buffer).set(idsBuf);
  const posToId = Array.from(ids);
  if (!posToId.every((id) => Number.isSafeInteger(id))) throw corrupt(path, 'bad id');

  let native: NativeIndex;
  try {
    native = faiss.Index.fromBuffer(faissBuf);
  } catch (err) {
    throw corrupt(path, `FAISS could not read it (${(err as Error).message})`, err);
  }
  if (native.ntotal() !== h.count || native.getDimension() !== h.dimension) {
    throw corrupt(
      path,
      `FAISS holds ${native.ntotal()}x${native.getDimension()}, header says ${h.count}x${h.dimension}`,
    );
  }
  let efSearch: number | undefined;
  if (h.kind === 'hnsw') {
    try {
      efSearch = options.efSearch ?? native.getEfSearch();
    } catch (err) {
      throw corrupt(path, 'header says hnsw but FAISS data is not an HNSW index', err);
    }
    checkPositiveInt('efSearch', efSearch, 1 << 20);
    native.setEfSearch(efSearch);
  } else {
    let isHnsw = true;
    try {
      native.getEfSearch();
    } catch {
      isHnsw = false;
    }
    if (isHnsw) throw corrupt(path, 'header says flat but FAISS data is an HNSW index');
  }
  const index = new FaissVectorIndex({
    kind: h.kind,
    dimension: h.dimension,
    M: h.M ?? undefined,
    efSearch,
    native,
    posToId,
    threads,
    logger,
  });
  logger.debug({ path, kind: h.kind, size: h.count, ms: Math.round(performance.now() - t0) }, 'index loaded');
  return index;
}
