/**
 * One reindex run: scan → plan → hash changed files → remove → embed and commit. Every commit is
 * one SQLite transaction (a checkpoint: a killed run loses only what was in flight) and is applied
 * to the live index at once, so the catalog is searchable while it is being indexed.
 */
import { readFile } from 'node:fs/promises';
import { type Embedder, type Logger, LookalikeError, type WeightsInfo } from '@lookalike/core';
import { type Labels, readLabels } from './csv.js';
import { type EmbedOutcome, embedInWindow, sha256Hex } from './embed-window.js';
import { FailureTally } from './feed-failures.js';
import type { LiveIndex, LiveRelabel, LiveUpsert } from './live-index.js';
import { toLiveItem } from './live-index.js';
import { type EmbedJob, massRemovalError, planReindex, removalCount, resolveHashed } from './plan.js';
import type { ProgressTracker } from './progress.js';
import { type ScanResult, scanImages } from './scan.js';
import type { CatalogStore } from './store.js';
import type { CatalogReindexSummary } from './types.js';

const FAILED_FILES_CAP = 50;

export interface RunContext {
  /** The database the run writes (during a model change: the shadow being re-embedded). */
  store: CatalogStore;
  /**
   * The catalog the mass-removal guard compares with: during a model change the old one, not
   * the half-made shadow. @defaultValue store
   */
  baseline?: CatalogStore;
  /** The live index of `store` now (a stale one is replaced before the run). */
  live: () => LiveIndex;
  embedder: Embedder;
  weights: WeightsInfo;
  imagesDir: string;
  labelsPath: string | undefined;
  batchSize: number;
  /** Embed calls in flight at most. */
  window: number;
  tracker: ProgressTracker;
  logger: Logger;
  /** True once close() was called: the run stops at its next checkpoint. */
  closing: () => boolean;
  /** Go ahead even when more than half of the catalog would be removed (see massRemovalError). */
  allowRemovals: boolean;
  /** With allowRemovals: refuse again when the run would remove more than this (core's ReindexRunOptions). */
  maxRemovals?: number | undefined;
}

/**
 * The guard before anything is written: a mass removal needs allowRemovals, and with maxRemovals
 * at most that many items (more files gone since the confirmation are refused again).
 */
function removalGuard(
  ctx: RunContext,
  wouldRemove: number,
  total: number,
  folderMissing: boolean,
): LookalikeError | undefined {
  const { allowRemovals, maxRemovals } = ctx;
  if (allowRemovals && (maxRemovals === undefined || wouldRemove <= maxRemovals)) return undefined;
  return massRemovalError(wouldRemove, total, ctx.imagesDir, folderMissing, allowRemovals ? maxRemovals : undefined);
}

function closedError(): LookalikeError {
  return new LookalikeError('INTERNAL', 'Catalog closed during reindex');
}

export async function runReindex(ctx: RunContext): Promise<CatalogReindexSummary> {
  const { store, tracker, logger: log } = ctx;
  const baseline = ctx.baseline ?? store;
  const startedAt = tracker.startedAt;

  // Phase: scanning.
  tracker.phase('scanning', 0);
  let scan: ScanResult;
  let folderMissing = false;
  try {
    scan = await scanImages(ctx.imagesDir);
  } catch (err) {
    // A missing folder with items stored is a mass removal (an unmounted share), not just "not found".
    const count = baseline.count();
    const guard = removalGuard(ctx, count, count, true);
    if (guard !== undefined) throw guard;
    if (count === 0 || !ctx.allowRemovals) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `Cannot read the images folder ${ctx.imagesDir}`, {
        cause: err,
        details: { imagesDir: ctx.imagesDir },
      });
    }
    log.warn({ err, imagesDir: ctx.imagesDir }, 'images folder unreadable; removing every item (allowRemovals)');
    folderMissing = true;
    scan = { files: [], collisions: [], unreadable: [] };
  }
  // Before anything is written: a run that would empty most of the catalog needs allowRemovals
  // (and, with maxRemovals, no more removals than were confirmed).
  if (!ctx.allowRemovals || ctx.maxRemovals !== undefined) {
    const guard = removalGuard(ctx, removalCount(scan, baseline.rows()), baseline.count(), folderMissing);
    if (guard !== undefined) throw guard;
  }
  const labels: Labels | undefined = ctx.labelsPath === undefined ? undefined : await readLabels(ctx.labelsPath);
  if (scan.collisions.length > 0) {
    log.warn(
      { count: scan.collisions.length, first: scan.collisions.slice(0, 5) },
      'several files share a name; they use their relative path as id',
    );
  }
  if (labels !== undefined && labels.repairedRows > 0) {
    log.info({ rows: labels.repairedRows }, 'labels rows with unquoted commas in the last column were repaired');
  }
  tracker.phase('scanning', scan.files.length, scan.files.length);

  store.transaction(() => {
    store.setMeta('weights_source', ctx.weights.source);
    store.setMeta('weights_md5', ctx.weights.md5);
    store.setMeta('weights_description', ctx.weights.description);
    store.setMeta('catalog_kind', 'folder');
    store.setMeta('images_dir', ctx.imagesDir);
    store.setMeta('labels_path', ctx.labelsPath ?? '');
  });

  const stored = { items: store.rows(), failures: store.failures() };
  const plan = planReindex(scan, stored, labels);
  const failedFiles: string[] = [...scan.unreadable, ...plan.knownFailures];
  let failed = failedFiles.length;
  const tally = new FailureTally(0);
  for (const p of scan.unreadable) tally.add('FILE_UNREADABLE', p);
  const knownCodes = new Map(stored.failures.map((f) => [f.path, f.code]));
  for (const p of plan.knownFailures) tally.add(knownCodes.get(p) ?? 'FILE_UNREADABLE', p);
  let unchanged = plan.unchanged;
  const relabel: LiveRelabel[] = [...plan.relabel];
  const toEmbed: EmbedJob[] = [...plan.toEmbed];
  tracker.expected = stored.items.length - plan.deleted.length + plan.toEmbed.length;

  // Phase: hashing (size or mtime changed).
  tracker.phase('hashing', plan.toHash.length);
  const touched: { fid: number; size: number; mtimeMs: number }[] = [];
  let hashed = 0;
  for (const h of plan.toHash) {
    if (ctx.closing()) throw closedError();
    let digest: string | undefined;
    try {
      digest = await sha256Hex(await readFile(h.file.absPath));
    } catch (err) {
      log.debug({ err, path: h.file.relPath }, 'cannot read file for hashing');
    }
    const outcome = resolveHashed(h, digest);
    if (outcome.kind === 'touched') {
      touched.push(outcome);
      unchanged++;
      if (outcome.relabel !== undefined) relabel.push(outcome.relabel);
    } else toEmbed.push(outcome.job);
    tracker.update(++hashed);
  }

  // Phase: removing (and the cheap metadata-only updates).
  tracker.phase('removing', plan.deleted.length);
  if (plan.deleted.length > 0 || touched.length > 0 || relabel.length > 0 || plan.staleFailures.length > 0) {
    store.transaction(() => {
      for (const r of plan.deleted) store.deleteFid(r.fid);
      for (const t of touched) store.touch(t.fid, t.size, t.mtimeMs);
      for (const l of relabel) store.setLabels(l.fid, l.id, l.metadata);
      for (const p of plan.staleFailures) store.deleteFailure(p);
      if (plan.deleted.length > 0) store.bumpGeneration();
    });
    ctx.live().apply({ remove: plan.deleted.map((r) => r.fid), relabel }, store.generation());
  }
  tracker.update(plan.deleted.length, true);

  // Phase: embedding; each group of batchSize finished files is one transaction, live at once.
  tracker.phase('embedding', toEmbed.length);
  let added = 0;
  let updated = 0;
  let embedded = 0;
  let done = 0;
  const commit = (outcomes: EmbedOutcome[]): void => {
    const now = Date.now();
    const upsert: LiveUpsert[] = [];
    const remove: number[] = [];
    store.transaction(() => {
      for (const o of outcomes) {
        const { file, metadata, kind, row } = o.job;
        if (o.ok) {
          const fid = store.upsert(
            {
              path: file.relPath,
              id: file.id,
              size: file.size,
              mtimeMs: file.mtimeMs,
              sha256: o.sha256,
              metadata,
              vector: o.vector,
            },
            now,
          );
          store.deleteFailure(file.relPath);
          upsert.push({ fid, vector: o.vector, item: toLiveItem(file.id, file.relPath, metadata) });
        } else {
          store.putFailure(
            { path: file.relPath, size: file.size, mtimeMs: file.mtimeMs, code: o.code, message: o.message },
            now,
          );
          // A changed file that no longer decodes leaves the catalog.
          if (kind === 'updated' && row !== undefined) {
            store.deleteFid(row.fid);
            remove.push(row.fid);
          }
        }
      }
      store.bumpGeneration();
    });
    ctx.live().apply({ upsert, remove }, store.generation());
    for (const o of outcomes) {
      if (o.ok) {
        if (o.job.kind === 'added') added++;
        else updated++;
        continue;
      }
      failed++;
      failedFiles.push(o.job.file.relPath);
      tally.add(o.code, o.job.file.relPath);
      // It will not be in the catalog when the run ends.
      if (tracker.expected !== null) tracker.expected--;
      log.debug({ path: o.job.file.relPath, code: o.code }, 'skipped unreadable image');
    }
    done += outcomes.length;
    tracker.update(done);
  };
  const { stopped } = await embedInWindow(
    toEmbed,
    {
      embedder: ctx.embedder,
      window: ctx.window,
      batchSize: ctx.batchSize,
      shouldStop: ctx.closing,
      onSent: () => {
        embedded++;
      },
    },
    commit,
  );
  if (stopped) throw closedError();

  const size = ctx.live().count();
  tracker.phase('done', size, size);
  const summary: CatalogReindexSummary = {
    added,
    updated,
    removed: plan.deleted.length,
    unchanged,
    failed,
    failedFiles: failedFiles.slice(0, FAILED_FILES_CAP),
    durationMs: Date.now() - startedAt,
    total: scan.files.length,
    embedded,
    relabelled: relabel.length,
    collisions: scan.collisions,
    size,
    failuresByCode: tally.byCode(),
    downloads: 0,
    notModified: 0,
  };
  log.info({ ...summary, failedFiles: summary.failedFiles.slice(0, 5), failuresByCode: undefined }, 'reindex finished');
  return summary;
}
