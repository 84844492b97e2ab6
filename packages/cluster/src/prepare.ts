/**
 * The first half of a reindex, shared by the local reindexer and the coordinator: scan the
 * images folder, read the labels, list the catalog in PostgreSQL, plan (plan.ts), refuse a mass
 * removal BEFORE anything is written, hash the files whose size or mtime changed (and, for the
 * coordinator, the new files: a job names its content), then write the removals and the
 * metadata-only changes. Progress phases: scanning, hashing, removing.
 */
import { readFile } from 'node:fs/promises';
import {
  failureOf,
  isSkippable,
  type Labels,
  massRemovalError,
  type ProgressTracker,
  readLabels,
  type ScanResult,
  scanImages,
  sha256Hex,
} from '@lookalike/catalog';
import { type Logger, LookalikeError, type ReindexRunOptions } from '@lookalike/core';
import type { FailureInput, PgCatalog, RelabelInput } from '@lookalike/pg';
import { type EmbedTask, type HashTask, planCatalog, resolveHashed } from './plan.js';
import { db } from './unavailable.js';

export interface PrepareContext {
  pg: PgCatalog;
  catalog: string;
  /** `modelKey(weights)`. */
  model: string;
  imagesDir: string | undefined;
  labelsPath: string | undefined;
  tracker: ProgressTracker;
  logger: Logger;
  options: ReindexRunOptions;
  /** Hash new files too (the coordinator: a job carries its content hash). */
  hashNew: boolean;
  /** True once the reindexer is closing: stop at the next file. */
  closing: () => boolean;
  /** Told how many items have a vector of the model once the catalog is listed (progress `searchable`). */
  onListed?: (searchable: number) => void;
}

/** A file that could not be planned or embedded. */
export interface FailedFile {
  sourceKey: string;
  /** Recorded in PostgreSQL when set (a failure found by this run). */
  record?: FailureInput;
}

export interface PreparedRun {
  imagesDir: string;
  total: number;
  collisions: string[];
  unchanged: number;
  /** Metadata-only writes: new size and mtime of unchanged content, changed ids or labels. */
  relabels: RelabelInput[];
  /** How many of `relabels` changed an id or labels. */
  relabelled: number;
  removals: string[];
  toEmbed: EmbedTask[];
  /** Unreadable entries, known failures, files that could not be hashed. */
  failed: FailedFile[];
  /** Items with a vector of the model now that stay (the searchable count before embedding). */
  searchable: number;
  /** Live items when the run ends, if every embed succeeds. */
  expected: number;
}

export function closedError(): LookalikeError {
  return new LookalikeError('INTERNAL', 'Reindexer closed during the reindex');
}

function removalGuard(
  o: ReindexRunOptions,
  wouldRemove: number,
  total: number,
  imagesDir: string,
  folderMissing: boolean,
): LookalikeError | undefined {
  const { allowRemovals, maxRemovals } = o;
  if (allowRemovals === true && (maxRemovals === undefined || wouldRemove <= maxRemovals)) return undefined;
  return massRemovalError(
    wouldRemove,
    total,
    imagesDir,
    folderMissing,
    allowRemovals === true ? maxRemovals : undefined,
  );
}

/** Scans, plans and hashes; writes nothing. @throws CATALOG_NOT_FOUND, REINDEX_MASS_REMOVAL, LABELS_INVALID, DATABASE_UNAVAILABLE */
export async function prepareRun(ctx: PrepareContext): Promise<PreparedRun> {
  const { tracker, logger: log, catalog } = ctx;
  const imagesDir = ctx.imagesDir;
  if (imagesDir === undefined) {
    throw new LookalikeError('CATALOG_NOT_FOUND', 'No images folder is configured for this catalog', {
      userMessage: 'No catalog folder is configured. Set LOOKALIKE_CATALOG_DIR on the process that reindexes.',
    });
  }
  tracker.phase('scanning', 0);
  const [listed, failures] = await db('listing the catalog', () =>
    Promise.all([ctx.pg.store.listItems(catalog, ctx.model), ctx.pg.store.failures(catalog)]),
  );
  ctx.onListed?.(listed.filter((i) => i.embedded).length);
  let scan: ScanResult;
  let folderMissing = false;
  try {
    scan = await scanImages(imagesDir);
  } catch (err) {
    // A missing folder with items stored is a mass removal (an unmounted share), not just "not found".
    const guard = removalGuard(ctx.options, listed.length, listed.length, imagesDir, true);
    if (guard !== undefined) throw guard;
    if (listed.length === 0 || ctx.options.allowRemovals !== true) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `Cannot read the images folder ${imagesDir}`, {
        cause: err,
        details: { imagesDir },
      });
    }
    log.warn({ err, imagesDir }, 'images folder unreadable; removing every item (allowRemovals)');
    folderMissing = true;
    scan = { files: [], collisions: [], unreadable: [] };
  }
  const labels: Labels | undefined = ctx.labelsPath === undefined ? undefined : await readLabels(ctx.labelsPath);
  if (scan.collisions.length > 0) {
    log.warn(
      { count: scan.collisions.length, first: scan.collisions.slice(0, 5) },
      'several files share a name; they use their relative path as id',
    );
  }
  tracker.phase('scanning', scan.files.length, scan.files.length);

  const plan = planCatalog({ files: scan.files, listed, failures, labels });
  // Before anything is written (or even hashed).
  if (ctx.options.allowRemovals !== true || ctx.options.maxRemovals !== undefined) {
    const guard = removalGuard(ctx.options, plan.removals.length, listed.length, imagesDir, folderMissing);
    if (guard !== undefined) throw guard;
  }

  const failed: FailedFile[] = [
    ...scan.unreadable.map((sourceKey) => ({ sourceKey })),
    ...plan.knownFailures.map((sourceKey) => ({ sourceKey })),
  ];
  const relabels = [...plan.relabel];
  let relabelled = plan.relabel.length;
  let unchanged = plan.unchanged;
  const toEmbed: EmbedTask[] = [];
  const toHash: HashTask[] = [...plan.toHash];
  for (const task of plan.toEmbed) {
    if (ctx.hashNew && task.contentHash === undefined) {
      toHash.push({ file: task.file, metadata: task.metadata, item: undefined, failure: undefined });
    } else toEmbed.push(task);
  }
  const added = plan.toEmbed.filter((t) => t.kind === 'added').length;
  tracker.expected = listed.length - plan.removals.length + added;

  tracker.phase('hashing', toHash.length);
  let hashed = 0;
  for (const h of toHash) {
    if (ctx.closing()) throw closedError();
    let digest: string;
    try {
      digest = await sha256Hex(await readFile(h.file.absPath));
    } catch (err) {
      if (!isSkippable(err)) throw err;
      const { code, message } = failureOf(err);
      log.debug({ err, path: h.file.relPath }, 'cannot read file for hashing');
      failed.push({ sourceKey: h.file.relPath, record: { sourceKey: h.file.relPath, code, message } });
      tracker.update(++hashed);
      continue;
    }
    const outcome = resolveHashed(h, digest);
    if (outcome.kind === 'touched') {
      unchanged++;
      relabels.push(outcome.relabel);
      if (outcome.labelsChanged) relabelled++;
    } else if (outcome.kind === 'embed') toEmbed.push(outcome.task);
    else failed.push({ sourceKey: outcome.sourceKey });
    tracker.update(++hashed);
  }
  tracker.expected = listed.length - plan.removals.length + toEmbed.filter((t) => t.kind === 'added').length;
  const removed = new Set(plan.removals);
  const searchable = listed.filter((i) => i.embedded && !removed.has(i.sourceKey)).length;
  return {
    imagesDir,
    total: scan.files.length,
    collisions: scan.collisions,
    unchanged,
    relabels,
    relabelled,
    removals: plan.removals,
    toEmbed,
    failed,
    searchable,
    expected: tracker.expected ?? 0,
  };
}

/** Writes the removals, the metadata-only changes and the failures found while preparing (phase removing). */
export async function applyPrepared(ctx: PrepareContext, prepared: PreparedRun): Promise<void> {
  const { tracker, catalog } = ctx;
  const store = ctx.pg.store;
  tracker.phase('removing', prepared.removals.length);
  if (prepared.removals.length > 0) {
    await db('removing items', () => store.removeItems(catalog, prepared.removals));
  }
  if (prepared.relabels.length > 0) {
    await db('relabelling items', () => store.relabelItems(catalog, prepared.relabels));
  }
  for (const f of prepared.failed) {
    if (f.record !== undefined) {
      const record = f.record;
      await db('recording a failure', () => store.recordFailure(catalog, record));
    }
  }
  tracker.update(prepared.removals.length, true);
}
