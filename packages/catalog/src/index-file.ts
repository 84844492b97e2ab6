/**
 * The saved index (`index.faiss`) and its sidecar (`index.json`): loading it at start-up when it
 * matches the database, rebuilding it from the stored vectors when it does not (in chunks,
 * without freezing the event loop), and saving it in the background.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '@lookalike/core';
import {
  buildIndexInWorker,
  createIndex,
  type ExactVectors,
  type IndexKind,
  loadIndex,
  removeStaleTempFiles,
  tempPathFor,
  type VectorIndex,
} from '@lookalike/index';
import { LiveIndex, toLiveItem } from './live-index.js';
import type { LiveItem } from './search.js';
import { blobToVector, type CatalogStore, type ItemRow } from './store.js';

/** Rows read from SQLite (and vectors added to the index) per chunk of a rebuild. */
export const REBUILD_CHUNK = 1024;

/** What the saved index file holds, written after the file itself. */
export interface IndexSidecar {
  generation: number;
  kind: IndexKind;
  count: number;
  weightsMd5: string;
}

export interface IndexFiles {
  indexPath: string;
  sidecarPath: string;
}

export async function readSidecar(path: string): Promise<IndexSidecar | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Partial<IndexSidecar>;
    if (typeof s.generation !== 'number' || typeof s.count !== 'number') return undefined;
    return s as IndexSidecar;
  } catch {
    return undefined;
  }
}

async function writeSidecar(path: string, sidecar: IndexSidecar): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Removes the temp files a crashed save left in the data dir (index and sidecar temps of dead
 * processes; see `removeStaleTempFiles`). Called when the catalog opens its index; best effort.
 */
export async function removeLeftoverTemps(dataDir: string, logger: Logger): Promise<string[]> {
  const removed = await removeStaleTempFiles(dataDir);
  if (removed.length > 0) logger.info({ dataDir, removed }, 'removed temp files left by an interrupted save');
  return removed;
}

/** How the catalog's indexes are made. */
export interface IndexSpec {
  kind: IndexKind;
  dimension: number;
  efSearch: number;
  /**
   * flat-sq8: the fp32 vectors of fids (FAISS ids are fids), read from the database the index
   * mirrors (`CatalogStore.vectorsByFid`); the top candidates of the 8-bit scan are re-ranked
   * with them. Ignored by the other kinds.
   */
  exactVectors?: ExactVectors | undefined;
  logger: Logger;
}

/** The options every index of the catalog is made or loaded with. */
function indexOptions(spec: IndexSpec) {
  return {
    dimension: spec.dimension,
    efSearch: spec.efSearch,
    logger: spec.logger,
    ...(spec.kind === 'flat-sq8' && spec.exactVectors !== undefined ? { exactVectors: spec.exactVectors } : {}),
  };
}

export interface OpenLiveOptions {
  files: IndexFiles;
  store: CatalogStore;
  spec: IndexSpec;
  weightsMd5: string;
  logger: Logger;
}

function newIndex(spec: IndexSpec): VectorIndex {
  return createIndex({ kind: spec.kind, ...indexOptions(spec) });
}

/** An empty live index of the catalog's kind. */
export function emptyLiveIndex(spec: IndexSpec, generation: number): LiveIndex {
  return new LiveIndex(newIndex(spec), new Map(), generation);
}

/**
 * The live index at start-up: the saved file when its sidecar matches the database (generation,
 * kind, count, weights) and it loads with the right size and kind; else rebuilt from the stored
 * vectors (so switching LOOKALIKE_INDEX rebuilds).
 * Temp files that crashed saves left beside the index file are removed first.
 * `saved` tells whether the file on disk matches it (else the caller saves it).
 */
export async function openLiveIndex(o: OpenLiveOptions): Promise<{ live: LiveIndex; saved: boolean }> {
  await removeLeftoverTemps(dirname(o.files.indexPath), o.logger);
  const generation = o.store.generation();
  const count = o.store.count();
  const sidecar = await readSidecar(o.files.sidecarPath);
  if (
    sidecar !== undefined &&
    sidecar.generation === generation &&
    sidecar.kind === o.spec.kind &&
    sidecar.count === count &&
    sidecar.weightsMd5 === o.weightsMd5 &&
    existsSync(o.files.indexPath)
  ) {
    try {
      const index = await loadIndex(o.files.indexPath, indexOptions(o.spec));
      if (index.kind === o.spec.kind && index.size() === count) {
        const items = new Map<number, LiveItem>();
        for (const r of o.store.rows()) items.set(r.fid, toLiveItem(r.id, r.file ?? r.path, r.metadata));
        o.logger.debug({ size: count, generation, kind: index.kind }, 'index loaded');
        return { live: new LiveIndex(index, items, generation), saved: true };
      }
      o.logger.warn(
        { indexSize: index.size(), count, indexKind: index.kind, kind: o.spec.kind },
        'index file disagrees with the database (size or kind); rebuilding',
      );
      await index.close();
    } catch (err) {
      o.logger.warn({ err }, 'index file unreadable; rebuilding from stored vectors');
    }
  } else if (count > 0) {
    o.logger.info({ generation, sidecar }, 'index missing or out of date; rebuilding from stored vectors');
  }
  if (count === 0) return { live: emptyLiveIndex(o.spec, generation), saved: true };
  return rebuildLiveIndex(o.store, o.spec, o.logger, { files: o.files, weightsMd5: o.weightsMd5 });
}

/**
 * A live index of every stored vector, built without freezing the event loop: SQLite is read in
 * chunks of REBUILD_CHUNK rows that are streamed to an index worker (`buildIndexInWorker`), which
 * also writes the file when `save` is given (then the sidecar is written here). If the worker
 * build fails, the index is built on this thread instead, one chunk per turn of the event loop.
 */
export async function rebuildLiveIndex(
  store: CatalogStore,
  spec: IndexSpec,
  logger: Logger,
  save?: { files: IndexFiles; weightsMd5: string },
): Promise<{ live: LiveIndex; saved: boolean }> {
  const t0 = performance.now();
  const generation = store.generation();
  const builder = buildIndexInWorker({ kind: spec.kind, ...indexOptions(spec) });
  try {
    const items = new Map<number, LiveItem>();
    for (const rows of storedChunks(store)) {
      await builder.add(
        rows.map((r) => r.fid),
        rows.map((r) => blobToVector(r.vector)),
      );
      for (const r of rows) items.set(r.fid, toLiveItem(r.id, r.file ?? r.path, r.metadata));
    }
    const index = await builder.finish(save === undefined ? {} : { saveTo: save.files.indexPath });
    const live = new LiveIndex(index, items, generation);
    let saved = false;
    if (save !== undefined) {
      try {
        await writeSidecar(save.files.sidecarPath, sidecarOf(live, save.weightsMd5));
        saved = true;
      } catch (err) {
        logger.warn({ err }, 'could not write the index sidecar');
      }
    }
    logger.info({ size: items.size, kind: spec.kind, ms: Math.round(performance.now() - t0) }, 'index rebuilt');
    return { live, saved };
  } catch (err) {
    await builder.abort().catch(() => {});
    logger.warn({ err }, 'building the index in a worker failed; building it on this thread in chunks');
  }
  const live = await rebuildInChunks(store, newIndex(spec));
  logger.info({ size: live.count(), kind: spec.kind, ms: Math.round(performance.now() - t0) }, 'index rebuilt');
  return { live, saved: false };
}

/** The stored items with their vectors, REBUILD_CHUNK rows at a time, in fid order. */
function* storedChunks(store: CatalogStore): Generator<(ItemRow & { vector: Buffer })[]> {
  let after = -1;
  for (;;) {
    const rows = store.rowsWithVectorsAfter(after, REBUILD_CHUNK);
    if (rows.length === 0) return;
    yield rows;
    after = rows.at(-1)!.fid;
  }
}

/** Fills `index` on this thread, yielding to the event loop between chunks. */
async function rebuildInChunks(store: CatalogStore, index: VectorIndex): Promise<LiveIndex> {
  const generation = store.generation();
  const items = new Map<number, LiveItem>();
  for (const rows of storedChunks(store)) {
    index.add(
      rows.map((r) => r.fid),
      rows.map((r) => blobToVector(r.vector)),
    );
    for (const r of rows) items.set(r.fid, toLiveItem(r.id, r.file ?? r.path, r.metadata));
    await yieldToLoop();
  }
  return new LiveIndex(index, items, generation);
}

function sidecarOf(live: LiveIndex, weightsMd5: string): IndexSidecar {
  return { generation: live.generation, kind: live.index.kind, count: live.count(), weightsMd5 };
}

/**
 * Saves the live index (the snapshot is taken now; hashing and writing run off the main thread),
 * then its sidecar. Resolves to whether it worked: a failed save is logged, never thrown (the
 * database is the source of truth, and start-up rebuilds a stale index).
 */
export async function saveLiveIndex(
  live: LiveIndex,
  files: IndexFiles,
  weightsMd5: string,
  logger: Logger,
): Promise<boolean> {
  const sidecar = sidecarOf(live, weightsMd5);
  const t0 = performance.now();
  try {
    await live.index.save(files.indexPath);
    await writeSidecar(files.sidecarPath, sidecar);
    logger.debug({ ...sidecar, ms: Math.round(performance.now() - t0) }, 'index saved');
    return true;
  } catch (err) {
    logger.error({ err, path: files.indexPath }, 'index save failed; it is rebuilt from the database on next start');
    return false;
  }
}
