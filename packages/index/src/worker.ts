/**
 * The index worker thread: saves and loads index files (hashing and I/O off the main thread; a
 * flat index's snapshot arrives in chunks) and builds whole FAISS indexes from streamed chunks. A finished index goes back to the main thread
 * as a native handle (`exportHandle` / `Index.fromHandle`): no serialization, no copy.
 *
 * One worker may serve many saves and loads; a build has a worker of its own.
 */
import { parentPort } from 'node:worker_threads';
import { isLookalikeError } from '@lookalike/core';
import { checkPositiveInt, firstNonFinite, headroom, internal } from './checks.js';
import { type FaissModule, isHnswNative, loadFaiss, type NativeIndex } from './faiss.js';
import { readIndexFile, writeIndexFile } from './file-io.js';
import { corrupt, parseFile } from './format.js';
import { addPacked, NATIVE_KIND, type NativeSpec, newNative } from './native.js';
import type {
  BuildAddResult,
  BuildFinishResult,
  LoadResult,
  SaveResult,
  WorkerReply,
  WorkerRequest,
} from './worker-protocol.js';

interface Build {
  faiss: FaissModule;
  spec: NativeSpec;
  threads: number;
  native: NativeIndex;
  ids: number[];
  seen: Set<number>;
}

let build: Build | undefined;
/** Flat snapshots being streamed in by `save` (see vector-index.ts), by job number. */
const flatSaves = new Map<number, NativeIndex>();

async function load(req: Extract<WorkerRequest, { type: 'load' }>): Promise<LoadResult> {
  const faiss = loadFaiss();
  const file = await readIndexFile(req.path);
  const { header: h, ids, faiss: bytes } = parseFile(req.path, file, req.dimension);
  let native: NativeIndex;
  try {
    native = faiss.Index.fromBuffer(bytes);
  } catch (err) {
    throw corrupt(req.path, `FAISS could not read it (${(err as Error).message})`, err);
  }
  if (native.ntotal() !== h.count || native.getDimension() !== h.dimension) {
    throw corrupt(
      req.path,
      `FAISS holds ${native.ntotal()}x${native.getDimension()}, header says ${h.count}x${h.dimension}`,
    );
  }
  const hnsw = isHnswNative(native);
  if (native.kindName() !== NATIVE_KIND[h.kind])
    throw corrupt(req.path, `header says ${h.kind} but the FAISS data is ${native.kindName()}`);
  let efSearch: number | undefined;
  if (hnsw) {
    efSearch = req.efSearch ?? native.getEfSearch();
    checkPositiveInt('efSearch', efSearch, 1 << 20);
    native.setEfSearch(efSearch);
  }
  native.reserve(headroom(h.count));
  return { header: h, ids, handle: native.exportHandle(), efSearch };
}

function buildInit(req: Extract<WorkerRequest, { type: 'build-init' }>): void {
  if (build) throw internal('build-init: a build is already running in this worker');
  const faiss = loadFaiss();
  build = { faiss, spec: req.spec, threads: req.threads, native: newNative(faiss, req.spec), ids: [], seen: new Set() };
}

function buildAdd(req: Extract<WorkerRequest, { type: 'build-add' }>): BuildAddResult {
  if (!build) throw internal('build-add before build-init');
  const d = build.spec.dimension;
  const { ids, vectors } = req;
  if (vectors.length !== ids.length * d)
    throw internal(`build: ${ids.length} ids but ${vectors.length / d} vectors of length ${d}`);
  const fresh = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!Number.isSafeInteger(id)) throw internal(`build: id ${id} is not a safe integer`);
    if (build.seen.has(id) || fresh.has(id)) throw internal(`build: id ${id} was already added`, { id });
    fresh.add(id);
    const bad = firstNonFinite(vectors, i * d, (i + 1) * d);
    if (bad >= 0) throw internal(`build: vector for id ${id} has a non-finite value at ${bad - i * d}`, { id });
  }
  addPacked(build.faiss, build.native, vectors, d, build.threads);
  if (build.native.ntotal() !== build.ids.length + ids.length)
    throw internal(`build: FAISS holds ${build.native.ntotal()}, expected ${build.ids.length + ids.length}`);
  for (const id of fresh) build.seen.add(id);
  for (const id of ids) build.ids.push(id);
  return { count: build.ids.length };
}

async function buildFinish(req: Extract<WorkerRequest, { type: 'build-finish' }>): Promise<BuildFinishResult> {
  if (!build) throw internal('build-finish before build-init');
  const b = build;
  const ids = Float64Array.from(b.ids);
  let bytes: number | undefined;
  if (req.saveTo !== undefined) {
    const faiss = b.native.toBuffer();
    bytes = await writeIndexFile(req.saveTo, { spec: b.spec, live: ids.length, ids: ids.slice(), faiss });
  }
  build = undefined;
  b.native.reserve(headroom(ids.length));
  return { handle: b.native.exportHandle(), ids, bytes };
}

function flatSave(job: number): NativeIndex {
  const native = flatSaves.get(job);
  if (!native) throw internal(`flat save ${job} is not open`);
  return native;
}

async function flatSaveEnd(req: Extract<WorkerRequest, { type: 'flat-save-end' }>): Promise<SaveResult> {
  const native = flatSave(req.job);
  flatSaves.delete(req.job);
  if (native.ntotal() !== req.snapshot.ids.length)
    throw internal(`flat save: ${native.ntotal()} vectors streamed for ${req.snapshot.ids.length} ids`);
  const faiss = native.toBuffer();
  const faissModule = loadFaiss();
  faissModule.Index.releaseHandle(native.exportHandle()); // free the copy before hashing and writing
  return { bytes: await writeIndexFile(req.path, { ...req.snapshot, faiss }) };
}

async function handle(req: WorkerRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (req.type) {
    case 'save': {
      const result: SaveResult = { bytes: await writeIndexFile(req.path, req.snapshot) };
      return { result, transfer: [] };
    }
    case 'load': {
      const result = await load(req);
      return { result, transfer: [result.ids.buffer as ArrayBuffer] };
    }
    case 'build-init':
      buildInit(req);
      return { result: null, transfer: [] };
    case 'build-add':
      return { result: buildAdd(req), transfer: [] };
    case 'build-finish': {
      const result = await buildFinish(req);
      return { result, transfer: [result.ids.buffer as ArrayBuffer] };
    }
    case 'flat-save-begin': {
      const native = new (loadFaiss().Index)(req.dimension);
      native.reserve(req.count);
      flatSaves.set(req.job, native);
      return { result: null, transfer: [] };
    }
    case 'flat-save-chunk':
      flatSave(req.job).addFloat32(req.vectors);
      return { result: null, transfer: [] };
    case 'flat-save-end':
      return { result: await flatSaveEnd(req), transfer: [] };
    case 'flat-save-abort':
      flatSaves.delete(req.job);
      return { result: null, transfer: [] };
    case 'release':
      return { result: loadFaiss().Index.releaseHandle(req.handle), transfer: [] };
  }
}

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread only');
port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    ({ result, transfer }) => port.postMessage({ seq: req.seq, ok: true, result } satisfies WorkerReply, transfer),
    (err: unknown) => {
      const error = isLookalikeError(err)
        ? { code: err.code, message: err.message, details: { ...err.details } }
        : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), details: {} };
      port.postMessage({ seq: req.seq, ok: false, error } satisfies WorkerReply);
    },
  );
});
