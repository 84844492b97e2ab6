/**
 * The catalog: SQLite state + a FAISS index derived from the stored vectors, and the
 * incremental reindex engine. Implements core's `CatalogPort`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  type CatalogPort,
  type Embedder,
  type ImageInput,
  type ItemMetadata,
  type Logger,
  LookalikeError,
  type MetadataFilters,
  type ReindexPhase,
  type ReindexProgress,
  type ReindexSummary,
  type SearchOptions,
  type SimilarItem,
  silentLogger,
  type WeightsInfo,
} from '@lookalike/core';
import { createIndex, loadIndex, type VectorIndex } from '@lookalike/index';
import { type Labels, readLabels } from './csv.js';
import { type ScannedFile, scanImages } from './scan.js';
import { blobToVector, CatalogStore, type FailureRow, type ItemRow } from './store.js';

/** Squared-L2 distance under which a result counts as an exact duplicate of the query. */
export const DUPLICATE_DISTANCE = 1e-6;

/** Error codes of a file that cannot be embedded: it is skipped and reported, never fatal. */
const SKIPPABLE_CODES = new Set(['UNSUPPORTED_IMAGE', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE']);
const SKIPPABLE_ERRNOS = new Set(['EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'EIO']);
const FAILED_FILES_CAP = 50;
const PROGRESS_INTERVAL_MS = 200;
const INDEX_ADD_CHUNK = 1024;

/** An embedder that can also split preprocessing from inference (the ImageEmbedder does). */
export interface PreparingEmbedder extends Embedder {
  prepare(input: ImageInput): Promise<Float32Array> | Float32Array;
  embedPrepared(tensors: readonly Float32Array[]): Promise<Float32Array[]>;
}

function canPrepare(e: Embedder): e is PreparingEmbedder {
  const x = e as Partial<PreparingEmbedder>;
  return typeof x.prepare === 'function' && typeof x.embedPrepared === 'function';
}

export interface CatalogOptions {
  /** Where `catalog.sqlite` and `index.faiss` live. Created when missing. */
  dataDir: string;
  /**
   * The folder of images. @defaultValue the folder recorded by the last reindex.
   * Required for `reindex()` on a new catalog.
   */
  imagesDir?: string | undefined;
  /** A styles.csv-format labels file. @defaultValue the file recorded by the last reindex, if any */
  labelsPath?: string | undefined;
  embedder: Embedder;
  /**
   * Index type and HNSW search breadth. @defaultValue kind: the kind of the last saved index,
   * else 'flat'; efSearch: 96
   */
  index?: { kind?: 'flat' | 'hnsw'; efSearch?: number };
  /** @defaultValue silentLogger */
  logger?: Logger;
  /** Images per inference batch. @defaultValue 8 */
  batchSize?: number;
  /**
   * When the database was built with other weights: false → `openCatalog` throws
   * INDEX_MODEL_MISMATCH; true → it opens, `search` throws INDEX_MODEL_MISMATCH and the next
   * `reindex()` re-embeds everything with the loaded weights. @defaultValue false
   */
  allowModelMismatch?: boolean;
}

/** The reindex summary with catalog extras. */
export interface CatalogReindexSummary extends ReindexSummary {
  /** Images actually sent through the embedder in this run. */
  embedded: number;
  /** Items whose metadata (labels) changed without re-embedding. */
  relabelled: number;
  /** File stems found in more than one file (those items use their relative path as id). */
  collisions: string[];
  /** Catalog size after the run. */
  size: number;
}

export interface CatalogInfo {
  dataDir: string;
  imagesDir: string | undefined;
  labelsPath: string | undefined;
  size: number;
  generation: number;
  indexKind: 'flat' | 'hnsw';
  /** Weights the stored vectors were made with (undefined for a new catalog). */
  storedWeights: { source: string; md5: string } | undefined;
  /** True when the stored vectors were made with other weights than the loaded ones. */
  modelMismatch: boolean;
}

interface SnapshotItem {
  id: string;
  relPath: string;
  metadata: ItemMetadata;
}

/** What readers search: swapped as a whole at the end of a reindex. */
interface Snapshot {
  index: VectorIndex;
  items: Map<number, SnapshotItem>;
  generation: number;
}

interface IndexSidecar {
  generation: number;
  kind: 'flat' | 'hnsw';
  count: number;
  weightsMd5: string;
}

/** A catalog item as returned by `items()`. */
export interface CatalogItem {
  id: string;
  path: string;
  metadata: ItemMetadata;
}

/** The catalog. Open with `openCatalog`. */
export interface Catalog extends CatalogPort {
  readonly weights: WeightsInfo;
  reindex(onProgress?: (p: ReindexProgress) => void): Promise<CatalogReindexSummary>;
  info(): CatalogInfo;
  /** Every searchable item (snapshot order). */
  items(): CatalogItem[];
  /** The stored vector of an item, or undefined. */
  vectorOf(id: string): Float32Array | undefined;
}

/**
 * Opens (or creates) the catalog in `dataDir`: checks the weights identity, loads the FAISS
 * index (rebuilding it from the stored vectors when it is missing, corrupt or out of date).
 * @throws LookalikeError INDEX_MODEL_MISMATCH (unless `allowModelMismatch`), INDEX_CORRUPT
 */
export async function openCatalog(options: CatalogOptions): Promise<Catalog> {
  const c = new SqliteCatalog(options);
  await c.init();
  return c;
}

class SqliteCatalog implements Catalog {
  readonly weights: WeightsInfo;
  readonly #dataDir: string;
  readonly #embedder: Embedder;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #kind: 'flat' | 'hnsw';
  readonly #efSearch: number;
  readonly #store: CatalogStore;
  readonly #indexPath: string;
  readonly #sidecarPath: string;
  #imagesDir: string | undefined;
  #labelsPath: string | undefined;
  #snapshot: Snapshot | undefined;
  #mismatch: { source: string; md5: string } | undefined;
  #running: Promise<CatalogReindexSummary> | undefined;
  #progress: ReindexProgress | null = null;
  #closing = false;
  #closed = false;

  constructor(options: CatalogOptions) {
    this.#dataDir = resolve(options.dataDir);
    this.#embedder = options.embedder;
    this.weights = options.embedder.weights;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'catalog' });
    this.#batchSize = Math.max(1, options.batchSize ?? 8);
    this.#efSearch = options.index?.efSearch ?? 96;
    this.#indexPath = join(this.#dataDir, 'index.faiss');
    this.#sidecarPath = join(this.#dataDir, 'index.json');
    this.#store = new CatalogStore(join(this.#dataDir, 'catalog.sqlite'));
    const storedKind = this.#store.getMeta('index_kind');
    this.#kind = options.index?.kind ?? (storedKind === 'hnsw' ? 'hnsw' : 'flat');
    const storedImages = this.#store.getMeta('images_dir');
    const storedLabels = this.#store.getMeta('labels_path') || undefined;
    this.#imagesDir = options.imagesDir !== undefined ? resolve(options.imagesDir) : storedImages;
    this.#labelsPath =
      options.labelsPath !== undefined
        ? resolve(options.labelsPath)
        : options.imagesDir !== undefined && resolve(options.imagesDir) !== storedImages
          ? undefined
          : storedLabels;
    const source = this.#store.getMeta('weights_source');
    const md5 = this.#store.getMeta('weights_md5');
    if (source !== undefined && md5 !== undefined && (source !== this.weights.source || md5 !== this.weights.md5)) {
      if (this.#store.count() > 0) {
        this.#mismatch = { source, md5 };
        if (options.allowModelMismatch !== true) {
          this.#store.close();
          throw mismatchError(this.#mismatch, this.weights);
        }
      }
    }
  }

  async init(): Promise<void> {
    if (this.#mismatch !== undefined) {
      this.#snapshot = { index: this.#newIndex(), items: new Map(), generation: -1 };
      return;
    }
    const generation = this.#store.generation();
    const count = this.#store.count();
    const sidecar = await readSidecar(this.#sidecarPath);
    if (
      sidecar !== undefined &&
      sidecar.generation === generation &&
      sidecar.kind === this.#kind &&
      sidecar.count === count &&
      sidecar.weightsMd5 === this.weights.md5 &&
      existsSync(this.#indexPath)
    ) {
      try {
        const index = await loadIndex(this.#indexPath, { efSearch: this.#efSearch });
        if (index.size() === count) {
          this.#snapshot = { index, items: this.#loadItems(), generation };
          this.#logger.debug({ size: count, generation }, 'index loaded');
          return;
        }
        this.#logger.warn({ indexSize: index.size(), count }, 'index size disagrees with the database; rebuilding');
      } catch (err) {
        this.#logger.warn({ err }, 'index file unreadable; rebuilding from stored vectors');
      }
    } else if (count > 0) {
      this.#logger.info({ generation, sidecar }, 'index missing or out of date; rebuilding from stored vectors');
    }
    const snap = this.#buildSnapshot();
    if (count > 0) await this.#saveIndex(snap);
    this.#snapshot = snap;
  }

  #newIndex(): VectorIndex {
    return createIndex({ kind: this.#kind, dimension: this.#embedder.dimension, efSearch: this.#efSearch });
  }

  #loadItems(): Map<number, SnapshotItem> {
    const items = new Map<number, SnapshotItem>();
    for (const r of this.#store.rows()) items.set(r.fid, toSnapshotItem(r));
    return items;
  }

  /** Builds a fresh index and item map from every stored vector. */
  #buildSnapshot(): Snapshot {
    const index = this.#newIndex();
    const items = new Map<number, SnapshotItem>();
    let ids: number[] = [];
    let vecs: Float32Array[] = [];
    const generation = this.#store.generation();
    for (const r of this.#store.iterateWithVectors()) {
      items.set(r.fid, toSnapshotItem(r));
      ids.push(r.fid);
      vecs.push(blobToVector(r.vector));
      if (ids.length >= INDEX_ADD_CHUNK) {
        index.add(ids, vecs);
        ids = [];
        vecs = [];
      }
    }
    if (ids.length > 0) index.add(ids, vecs);
    return { index, items, generation };
  }

  async #saveIndex(snap: Snapshot): Promise<void> {
    await snap.index.save(this.#indexPath);
    this.#store.setMeta('index_kind', this.#kind);
    const sidecar: IndexSidecar = {
      generation: snap.generation,
      kind: this.#kind,
      count: snap.items.size,
      weightsMd5: this.weights.md5,
    };
    const tmp = `${this.#sidecarPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, this.#sidecarPath);
  }

  size(): number {
    return this.#snapshot?.items.size ?? 0;
  }

  info(): CatalogInfo {
    const source = this.#store.getMeta('weights_source');
    const md5 = this.#store.getMeta('weights_md5');
    return {
      dataDir: this.#dataDir,
      imagesDir: this.#imagesDir,
      labelsPath: this.#labelsPath,
      size: this.size(),
      generation: this.#snapshot?.generation ?? 0,
      indexKind: this.#kind,
      storedWeights: source !== undefined && md5 !== undefined ? { source, md5 } : undefined,
      modelMismatch: this.#mismatch !== undefined,
    };
  }

  items(): CatalogItem[] {
    const snap = this.#snapshot;
    if (snap === undefined) return [];
    return [...snap.items.values()].map((it) => ({
      id: it.id,
      path: this.#absPath(it.relPath),
      metadata: it.metadata,
    }));
  }

  vectorOf(id: string): Float32Array | undefined {
    return this.#store.vectorById(id);
  }

  #absPath(relPath: string): string {
    return this.#imagesDir === undefined ? relPath : join(this.#imagesDir, relPath);
  }

  search(query: Float32Array, options: SearchOptions): SimilarItem[] {
    if (this.#mismatch !== undefined) throw mismatchError(this.#mismatch, this.weights);
    const snap = this.#snapshot;
    if (snap === undefined) throw new LookalikeError('INTERNAL', 'Catalog is closed');
    const k = Math.max(0, Math.floor(options.k));
    const n = snap.index.size();
    if (k === 0 || n === 0) return [];
    const excludeDuplicates = options.excludeDuplicates ?? true;
    const filters = normaliseFilters(options.filters);
    let depth = filters === undefined ? k + (excludeDuplicates ? 4 : 0) : Math.max(k * 8, 64);
    for (;;) {
      const kk = Math.min(depth, n);
      const hits = snap.index.search(query, kk);
      const out: SimilarItem[] = [];
      for (const h of hits) {
        if (h.id < 0) continue;
        if (excludeDuplicates && h.distance < DUPLICATE_DISTANCE) continue;
        const item = snap.items.get(h.id);
        if (item === undefined) continue;
        if (filters !== undefined && !matches(item.metadata, filters)) continue;
        const distance = Math.max(0, h.distance);
        out.push({
          rank: out.length + 1,
          id: item.id,
          path: this.#absPath(item.relPath),
          distance,
          similarity: 1 - distance / 2,
          metadata: item.metadata,
        });
        if (out.length === k) return out;
      }
      if (kk >= n) return out;
      depth *= 4;
    }
  }

  facet(field: string): string[] {
    const snap = this.#snapshot;
    if (snap === undefined) return [];
    const counts = new Map<string, number>();
    const f = field.toLowerCase();
    for (const it of snap.items.values()) {
      const key = Object.keys(it.metadata).find((k) => k.toLowerCase() === f);
      const v = key === undefined ? undefined : it.metadata[key];
      if (v === undefined || v === '') continue;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v);
  }

  reindexProgress(): ReindexProgress | null {
    return this.#progress === null ? null : { ...this.#progress };
  }

  reindex(onProgress?: (p: ReindexProgress) => void): Promise<CatalogReindexSummary> {
    if (this.#closed || this.#closing) return Promise.reject(new LookalikeError('INTERNAL', 'Catalog is closed'));
    if (this.#running !== undefined) {
      const progress = this.reindexProgress();
      return Promise.reject(
        new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', { details: { progress } }),
      );
    }
    this.#progress = { phase: 'scanning', done: 0, total: 0, rate: 0, etaSeconds: null, startedAt: Date.now() };
    // Started on the next microtask, so #running is set before any progress callback runs.
    const run = Promise.resolve()
      .then(() => this.#reindex(onProgress))
      .finally(() => {
        this.#running = undefined;
        this.#progress = null;
      });
    this.#running = run;
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    if (this.#running !== undefined) await this.#running.catch(() => {});
    this.#closed = true;
    this.#snapshot = undefined;
    this.#store.close();
  }

  // ---------------------------------------------------------------- reindex engine

  async #reindex(onProgress?: (p: ReindexProgress) => void): Promise<CatalogReindexSummary> {
    const startedAt = Date.now();
    const log = this.#logger.child({ op: 'reindex' });
    const imagesDir = this.#imagesDir;
    if (imagesDir === undefined) {
      throw new LookalikeError('CATALOG_NOT_FOUND', 'No images folder is configured for this catalog', {
        userMessage: 'No catalog folder is configured. Set LOOKALIKE_CATALOG_DIR or run `lookalike index DIR`.',
      });
    }
    const tracker = new ProgressTracker(startedAt, (p) => {
      this.#progress = p;
      if (onProgress !== undefined) {
        try {
          onProgress({ ...p });
        } catch (err) {
          log.warn({ err }, 'progress listener threw');
        }
      }
    });

    // Phase: scanning.
    tracker.phase('scanning', 0);
    let scan: Awaited<ReturnType<typeof scanImages>>;
    try {
      scan = await scanImages(imagesDir);
    } catch (err) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `Cannot read the images folder ${imagesDir}`, {
        cause: err,
        details: { imagesDir },
      });
    }
    const labels: Labels | undefined = this.#labelsPath === undefined ? undefined : await readLabels(this.#labelsPath);
    if (scan.collisions.length > 0) {
      log.warn(
        { count: scan.collisions.length, first: scan.collisions.slice(0, 5) },
        'several files share a name; they use their relative path as id',
      );
    }
    if (labels !== undefined && labels.repairedRows > 0) {
      log.info({ rows: labels.repairedRows }, 'labels rows with unquoted commas in the last column were repaired');
    }
    tracker.phase('scanning', scan.files.length);
    tracker.update(scan.files.length, true);

    // The loaded weights differ from the stored ones: start again from an empty catalog.
    if (this.#mismatch !== undefined) {
      log.warn({ stored: this.#mismatch, loaded: this.weights.md5 }, 'weights changed: re-embedding every image');
      this.#store.transaction(() => {
        this.#store.clear();
        this.#store.bumpGeneration();
      });
    }
    this.#store.transaction(() => {
      this.#store.setMeta('weights_source', this.weights.source);
      this.#store.setMeta('weights_md5', this.weights.md5);
      this.#store.setMeta('weights_description', this.weights.description);
      this.#store.setMeta('images_dir', imagesDir);
      if (this.#labelsPath === undefined) this.#store.setMeta('labels_path', '');
      else this.#store.setMeta('labels_path', this.#labelsPath);
    });
    this.#mismatch = undefined;

    // Is the in-memory index already behind the database (e.g. a run killed midway)?
    const before = this.#snapshot;
    const staleBefore =
      before === undefined ||
      before.generation !== this.#store.generation() ||
      before.items.size !== this.#store.count();

    // Classify.
    const existing = new Map<string, ItemRow>();
    for (const r of this.#store.rows()) existing.set(r.path, r);
    const failures = new Map<string, FailureRow>();
    for (const f of this.#store.failures()) failures.set(f.path, f);
    const metaOf = (f: ScannedFile): string => {
      const m = labels?.byId.get(f.id) ?? labels?.byId.get(f.stem);
      return JSON.stringify(m ?? {});
    };
    interface Job {
      file: ScannedFile;
      metadata: string;
      kind: 'added' | 'updated';
    }
    const toEmbed: Job[] = [];
    const toHash: { file: ScannedFile; row: ItemRow; metadata: string }[] = [];
    const relabel: { fid: number; id: string; metadata: string }[] = [];
    const failedFiles: string[] = [...scan.unreadable];
    let failed = scan.unreadable.length;
    let unchanged = 0;
    const seen = new Set<string>();
    const staleFailures: string[] = [];
    for (const f of scan.files) {
      seen.add(f.relPath);
      const metadata = metaOf(f);
      const row = existing.get(f.relPath);
      if (row !== undefined) {
        if (row.size === f.size && row.mtime_ms === f.mtimeMs) {
          unchanged++;
          if (row.id !== f.id || row.metadata !== metadata) relabel.push({ fid: row.fid, id: f.id, metadata });
        } else toHash.push({ file: f, row, metadata });
        continue;
      }
      const prev = failures.get(f.relPath);
      if (prev !== undefined && prev.size === f.size && prev.mtime_ms === f.mtimeMs) {
        failed++;
        failedFiles.push(f.relPath);
        continue;
      }
      toEmbed.push({ file: f, metadata, kind: 'added' });
    }
    for (const p of failures.keys()) if (!seen.has(p)) staleFailures.push(p);
    const deleted: ItemRow[] = [];
    for (const [p, r] of existing) if (!seen.has(p)) deleted.push(r);

    // Phase: hashing (size or mtime changed).
    tracker.phase('hashing', toHash.length);
    const touched: { fid: number; size: number; mtimeMs: number }[] = [];
    let hashed = 0;
    for (const h of toHash) {
      this.#checkClosing();
      let digest: string | undefined;
      try {
        digest = sha256(await readFile(h.file.absPath));
      } catch (err) {
        log.debug({ err, path: h.file.relPath }, 'cannot read file for hashing');
      }
      if (digest !== undefined && digest === h.row.sha256) {
        touched.push({ fid: h.row.fid, size: h.file.size, mtimeMs: h.file.mtimeMs });
        unchanged++;
        if (h.row.id !== h.file.id || h.row.metadata !== h.metadata) {
          relabel.push({ fid: h.row.fid, id: h.file.id, metadata: h.metadata });
        }
      } else {
        toEmbed.push({ file: h.file, metadata: h.metadata, kind: 'updated' });
      }
      tracker.update(++hashed);
    }

    // Phase: removing (and cheap metadata-only updates).
    tracker.phase('removing', deleted.length);
    let vectorsChanged = false;
    if (deleted.length > 0 || touched.length > 0 || relabel.length > 0 || staleFailures.length > 0) {
      this.#store.transaction(() => {
        for (const r of deleted) this.#store.deleteFid(r.fid);
        for (const t of touched) this.#store.touch(t.fid, t.size, t.mtimeMs);
        for (const l of relabel) this.#store.setLabels(l.fid, l.id, l.metadata);
        for (const p of staleFailures) this.#store.deleteFailure(p);
        if (deleted.length > 0) this.#store.bumpGeneration();
      });
      vectorsChanged = deleted.length > 0;
    }
    tracker.update(deleted.length, true);

    // Phase: embedding, batched, decoding of the next batch overlapped with inference.
    tracker.phase('embedding', toEmbed.length);
    let added = 0;
    let updated = 0;
    let embedded = 0;
    let done = 0;
    const batches: Job[][] = [];
    for (let i = 0; i < toEmbed.length; i += this.#batchSize) batches.push(toEmbed.slice(i, i + this.#batchSize));
    type Prepared =
      | { ok: true; job: Job; sha: string; input: Float32Array | Uint8Array }
      | { ok: false; job: Job; code: string; message: string };
    const embedder = this.#embedder;
    const preparing = canPrepare(embedder);
    const prepareOne = async (job: Job): Promise<Prepared> => {
      try {
        const bytes = await readFile(job.file.absPath);
        const sha = sha256(bytes);
        const input = preparing ? await embedder.prepare(bytes) : bytes;
        return { ok: true, job, sha, input };
      } catch (err) {
        return { ok: false, job, ...skippable(err) };
      }
    };
    const prepareBatch = (batch: Job[]) => Promise.all(batch.map(prepareOne));
    let pending: Promise<Prepared[]> | undefined = batches.length > 0 ? prepareBatch(batches[0]!) : undefined;
    for (let b = 0; b < batches.length; b++) {
      const prepared = await pending!;
      pending = b + 1 < batches.length ? prepareBatch(batches[b + 1]!) : undefined;
      if (this.#closing) {
        await pending?.catch(() => {});
        this.#checkClosing();
      }
      const good = prepared.filter((p): p is Extract<Prepared, { ok: true }> => p.ok);
      const bad = prepared.filter((p): p is Extract<Prepared, { ok: false }> => !p.ok);
      let vectors: (Float32Array | undefined)[] = [];
      if (good.length > 0) {
        try {
          vectors = preparing
            ? await embedder.embedPrepared(good.map((g) => g.input as Float32Array))
            : await embedder.embed(good.map((g) => g.input as Uint8Array));
        } catch (err) {
          if (preparing || !isSkippable(err)) {
            await pending?.catch(() => {});
            throw err;
          }
          // Plain embedders reject the whole batch: find the bad file one by one.
          vectors = [];
          for (const g of good) {
            try {
              vectors.push((await embedder.embed([g.input as Uint8Array]))[0]);
            } catch (e) {
              if (!isSkippable(e)) throw e;
              vectors.push(undefined);
              bad.push({ ok: false, job: g.job, ...skippable(e) });
            }
          }
        }
        embedded += good.length;
      }
      const now = Date.now();
      this.#store.transaction(() => {
        good.forEach((g, i) => {
          const v = vectors[i];
          if (v === undefined) return;
          this.#store.upsert(
            {
              path: g.job.file.relPath,
              id: g.job.file.id,
              size: g.job.file.size,
              mtimeMs: g.job.file.mtimeMs,
              sha256: g.sha,
              metadata: g.job.metadata,
              vector: v,
            },
            now,
          );
          this.#store.deleteFailure(g.job.file.relPath);
          if (g.job.kind === 'added') added++;
          else updated++;
        });
        for (const f of bad) {
          this.#store.putFailure(
            {
              path: f.job.file.relPath,
              size: f.job.file.size,
              mtimeMs: f.job.file.mtimeMs,
              code: f.code,
              message: f.message,
            },
            now,
          );
          // A changed file that no longer decodes leaves the catalog.
          if (f.job.kind === 'updated') {
            const row = existing.get(f.job.file.relPath);
            if (row !== undefined) this.#store.deleteFid(row.fid);
          }
        }
        this.#store.bumpGeneration();
      });
      vectorsChanged = true;
      for (const f of bad) {
        failed++;
        failedFiles.push(f.job.file.relPath);
        log.debug({ path: f.job.file.relPath, code: f.code }, 'skipped unreadable image');
      }
      done += prepared.length;
      tracker.update(done);
    }

    // Phase: indexing + saving, then swap.
    if (vectorsChanged || staleBefore) {
      const total = this.#store.count();
      tracker.phase('indexing', total);
      const snap = this.#buildSnapshot();
      tracker.update(total, true);
      tracker.phase('saving', 1);
      await this.#saveIndex(snap);
      tracker.update(1, true);
      if (!this.#closed) this.#snapshot = snap;
    } else if (relabel.length > 0 && before !== undefined && !this.#closed) {
      // Same vectors, new labels: keep the index, swap in the new item map.
      this.#snapshot = { index: before.index, items: this.#loadItems(), generation: before.generation };
    }
    const size = this.size();
    tracker.phase('done', size, size);
    const summary: CatalogReindexSummary = {
      added,
      updated,
      removed: deleted.length,
      unchanged,
      failed,
      failedFiles: failedFiles.slice(0, FAILED_FILES_CAP),
      durationMs: Date.now() - startedAt,
      total: scan.files.length,
      embedded,
      relabelled: relabel.length,
      collisions: scan.collisions,
      size,
    };
    log.info({ ...summary, failedFiles: summary.failedFiles.slice(0, 5) }, 'reindex finished');
    return summary;
  }

  #checkClosing(): void {
    if (this.#closing) throw new LookalikeError('INTERNAL', 'Catalog closed during reindex');
  }
}

/** Emits throttled progress events with per-phase rate and ETA. */
class ProgressTracker {
  #phase: ReindexPhase = 'scanning';
  #phaseStart = Date.now();
  #total = 0;
  #lastEmit = 0;
  constructor(
    readonly startedAt: number,
    readonly emit: (p: ReindexProgress) => void,
  ) {}

  phase(phase: ReindexPhase, total: number, done = 0): void {
    this.#phase = phase;
    this.#total = total;
    this.#phaseStart = Date.now();
    this.update(done, true);
  }

  update(done: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastEmit < PROGRESS_INTERVAL_MS && done < this.#total) return;
    this.#lastEmit = now;
    const elapsed = (now - this.#phaseStart) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const etaSeconds = rate > 0 ? Math.max(0, (this.#total - done) / rate) : done >= this.#total ? 0 : null;
    this.emit({ phase: this.#phase, done, total: this.#total, rate, etaSeconds, startedAt: this.startedAt });
  }
}

function mismatchError(stored: { source: string; md5: string }, loaded: WeightsInfo): LookalikeError {
  return new LookalikeError(
    'INDEX_MODEL_MISMATCH',
    `Catalog was built with weights ${stored.source} (md5 ${stored.md5}); loaded weights are ${loaded.source} (md5 ${loaded.md5}). Run \`lookalike index DIR\` or /reindex to rebuild it.`,
    { details: { stored, loaded: { source: loaded.source, md5: loaded.md5 } } },
  );
}

function skippable(err: unknown): { code: string; message: string } {
  if (!isSkippable(err)) throw err;
  const e = err as { code?: string; message?: string };
  return { code: String(e.code), message: String(e.message ?? err) };
}

function isSkippable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return err instanceof LookalikeError ? SKIPPABLE_CODES.has(code) : SKIPPABLE_ERRNOS.has(code);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toSnapshotItem(r: ItemRow): SnapshotItem {
  return { id: r.id, relPath: r.path, metadata: JSON.parse(r.metadata) as ItemMetadata };
}

function normaliseFilters(filters: MetadataFilters | undefined): [string, string][] | undefined {
  if (filters === undefined) return undefined;
  const entries = Object.entries(filters).map(
    ([k, v]) => [k.toLowerCase(), v.trim().toLowerCase()] as [string, string],
  );
  return entries.length === 0 ? undefined : entries;
}

function matches(metadata: ItemMetadata, filters: [string, string][]): boolean {
  for (const [field, want] of filters) {
    let found = false;
    for (const [k, v] of Object.entries(metadata)) {
      if (k.toLowerCase() === field && v !== undefined && v.toLowerCase() === want) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

async function readSidecar(path: string): Promise<IndexSidecar | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Partial<IndexSidecar>;
    if (typeof s.generation !== 'number' || typeof s.count !== 'number') return undefined;
    return s as IndexSidecar;
  } catch {
    return undefined;
  }
}

/** Removes a catalog's data files (database, index). */
export async function removeCatalogData(dataDir: string): Promise<void> {
  for (const f of ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm', 'index.faiss', 'index.json']) {
    await rm(join(dataDir, f), { force: true });
  }
}

/** True when `dataDir` holds a catalog database. */
export function catalogExists(dataDir: string): boolean {
  return existsSync(join(isAbsolute(dataDir) ? dataDir : resolve(dataDir), 'catalog.sqlite'));
}
