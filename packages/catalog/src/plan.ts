/**
 * The reindex plan: what a scan of the images folder means for the stored catalog. Pure (no I/O):
 * `planReindex` classifies every scanned file against the stored items and failures, and
 * `resolveHashed` settles a file whose size or mtime changed once its content hash is known.
 */
import { LookalikeError } from '@lookalike/core';
import type { Labels } from './csv.js';
import type { ScannedFile, ScanResult } from './scan.js';
import type { FailureRow, ItemRow } from './store.js';

/** What the database holds before the run. */
export interface StoredState {
  items: readonly ItemRow[];
  failures: readonly FailureRow[];
}

/** A file to send through the embedder. */
export interface EmbedJob {
  file: ScannedFile;
  /** Its labels as stored (JSON of the labels row, `{}` without one). */
  metadata: string;
  /** `added`: a new item; `updated`: the content of a stored item changed (`row` is the old one). */
  kind: 'added' | 'updated';
  row?: ItemRow;
}

/** A stored file whose size or mtime changed: its hash decides whether it is re-embedded. */
export interface HashJob {
  file: ScannedFile;
  row: ItemRow;
  metadata: string;
}

/** A stored item whose id or labels changed, without a new vector. */
export interface Relabel {
  fid: number;
  id: string;
  relPath: string;
  metadata: string;
}

export interface ReindexPlan {
  /** New files (not stored, and not a known failure with the same size and mtime). */
  toEmbed: EmbedJob[];
  /** Stored files whose size or mtime changed. */
  toHash: HashJob[];
  /** Unchanged files whose id or labels changed. */
  relabel: Relabel[];
  /** Stored items whose file is gone. */
  deleted: ItemRow[];
  /** Recorded failures whose file is gone (their records are dropped). */
  staleFailures: string[];
  /** Files that failed before with the same size and mtime: reported again, not retried. */
  knownFailures: string[];
  /** Stored files with the same size and mtime (relabelled ones included). */
  unchanged: number;
}

/** The labels of a file as stored: looked up by id, then by stem. */
export function metadataOf(file: ScannedFile, labels: Labels | undefined): string {
  const m = labels?.byId.get(file.id) ?? labels?.byId.get(file.stem);
  return JSON.stringify(m ?? {});
}

/** Classifies a scan against the stored state. */
export function planReindex(
  scan: Pick<ScanResult, 'files'>,
  stored: StoredState,
  labels?: Labels | undefined,
): ReindexPlan {
  const byPath = new Map<string, ItemRow>();
  for (const r of stored.items) byPath.set(r.path, r);
  const failures = new Map<string, FailureRow>();
  for (const f of stored.failures) failures.set(f.path, f);
  const plan: ReindexPlan = {
    toEmbed: [],
    toHash: [],
    relabel: [],
    deleted: [],
    staleFailures: [],
    knownFailures: [],
    unchanged: 0,
  };
  const seen = new Set<string>();
  for (const file of scan.files) {
    seen.add(file.relPath);
    const metadata = metadataOf(file, labels);
    const row = byPath.get(file.relPath);
    if (row !== undefined) {
      if (row.size === file.size && row.mtime_ms === file.mtimeMs) {
        plan.unchanged++;
        if (row.id !== file.id || row.metadata !== metadata) {
          plan.relabel.push({ fid: row.fid, id: file.id, relPath: file.relPath, metadata });
        }
      } else plan.toHash.push({ file, row, metadata });
      continue;
    }
    const prev = failures.get(file.relPath);
    if (prev !== undefined && prev.size === file.size && prev.mtime_ms === file.mtimeMs) {
      plan.knownFailures.push(file.relPath);
      continue;
    }
    plan.toEmbed.push({ file, metadata, kind: 'added' });
  }
  for (const p of failures.keys()) if (!seen.has(p)) plan.staleFailures.push(p);
  for (const [p, r] of byPath) if (!seen.has(p)) plan.deleted.push(r);
  return plan;
}

/** What a hashed file turned out to be. */
export type HashOutcome =
  | { kind: 'touched'; fid: number; size: number; mtimeMs: number; relabel: Relabel | undefined }
  | { kind: 'changed'; job: EmbedJob };

/**
 * Same content hash as stored → only size and mtime are recorded (and labels re-applied when
 * they changed); another hash, or none (unreadable) → the file is re-embedded as `updated`.
 */
export function resolveHashed(job: HashJob, digest: string | undefined): HashOutcome {
  const { file, row, metadata } = job;
  if (digest !== undefined && digest === row.sha256) {
    const relabel =
      row.id !== file.id || row.metadata !== metadata
        ? { fid: row.fid, id: file.id, relPath: file.relPath, metadata }
        : undefined;
    return { kind: 'touched', fid: row.fid, size: file.size, mtimeMs: file.mtimeMs, relabel };
  }
  return { kind: 'changed', job: { file, metadata, kind: 'updated', row } };
}

/** Stored items whose file is not in the scan (what a run would remove). */
export function removalCount(scan: Pick<ScanResult, 'files'>, items: readonly Pick<ItemRow, 'path'>[]): number {
  const seen = new Set<string>();
  for (const f of scan.files) seen.add(f.relPath);
  let n = 0;
  for (const r of items) if (!seen.has(r.path)) n++;
  return n;
}

/**
 * The mass-removal guard: a run that would remove more than half of a non-empty catalog (a
 * missing, empty or unmounted folder included) is refused before it changes anything.
 * `confirmed` is the count an admin confirmed (`maxRemovals`) when the run removes more than that.
 * @returns REINDEX_MASS_REMOVAL with `details.wouldRemove`, `details.total`, `details.imagesDir`,
 *   `details.folderMissing` (and `details.confirmed` when given), or undefined
 */
export function massRemovalError(
  wouldRemove: number,
  total: number,
  imagesDir: string,
  folderMissing = false,
  confirmed?: number,
): LookalikeError | undefined {
  if (total === 0 || wouldRemove * 2 <= total) return undefined;
  const where = folderMissing
    ? `the folder ${imagesDir} is missing`
    : wouldRemove === total
      ? `the folder ${imagesDir} looks empty (is it mounted?)`
      : `most files in ${imagesDir} are gone`;
  return refusal(wouldRemove, total, where, confirmed, 'files', { imagesDir, folderMissing });
}

/**
 * The mass-removal guard of a feed catalog: a feed that lost more than half of the catalog's
 * products (an empty or truncated export) is refused before anything changes.
 * @returns REINDEX_MASS_REMOVAL with `details.wouldRemove`, `details.total`, `details.feed`,
 *   `details.folderMissing` = false (and `details.confirmed`), or undefined
 */
export function feedMassRemovalError(
  wouldRemove: number,
  total: number,
  feed: string,
  confirmed?: number,
): LookalikeError | undefined {
  if (total === 0 || wouldRemove * 2 <= total) return undefined;
  const where =
    wouldRemove === total ? `the feed ${feed} lists none of them` : `most products are gone from the feed ${feed}`;
  return refusal(wouldRemove, total, where, confirmed, 'products', { feed, folderMissing: false });
}

function refusal(
  wouldRemove: number,
  total: number,
  where: string,
  confirmed: number | undefined,
  things: string,
  details: Record<string, unknown>,
): LookalikeError {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const why =
    confirmed === undefined
      ? 'refused without allowRemovals'
      : `refused: only ${confirmed} ${confirmed === 1 ? 'removal was' : 'removals were'} confirmed (maxRemovals)`;
  const since =
    confirmed === undefined
      ? ''
      : ` More ${things} are gone since the removal of ${fmt(confirmed)} ${confirmed === 1 ? 'item' : 'items'} was confirmed.`;
  const check = things === 'files' ? 'Check the folder' : 'Check the feed';
  return new LookalikeError(
    'REINDEX_MASS_REMOVAL',
    `Reindex would remove ${wouldRemove} of ${total} items (${where}); ${why}`,
    {
      details: { wouldRemove, total, ...details, ...(confirmed === undefined ? {} : { confirmed }) },
      userMessage: `This reindex would remove ${fmt(wouldRemove)} of the ${fmt(total)} items in the catalog: ${where}.${since} Nothing was changed. ${check}, then confirm the removal to go ahead.`,
    },
  );
}
