/**
 * The plan of a PostgreSQL-backed reindex, pure (no I/O): each scanned file against the live
 * items (`listItems`: content hash, metadata, whether the loaded model has a vector) and the
 * recorded failures. `planCatalog` classifies; `resolveHashed` settles a file once its content
 * hash is known.
 */
import type { Labels, ScannedFile } from '@lookalike/catalog';
import type { ItemMetadata } from '@lookalike/core';
import type { ItemFailure, ListedItem, RelabelInput } from '@lookalike/pg';
import type { StoredMetadata } from './types.js';

/**
 * Failure codes of the file's content itself: the same content failed before, so it is reported
 * again and not retried. Other failures (the database, a worker of another model) are retried.
 */
export const CONTENT_FAILURE_CODES: ReadonlySet<string> = new Set([
  'UNSUPPORTED_IMAGE',
  'IMAGE_DECODE_FAILED',
  'IMAGE_TOO_LARGE',
]);

/** A file to embed. */
export interface EmbedTask {
  sourceKey: string;
  file: ScannedFile;
  metadata: StoredMetadata;
  /** The live item's content hash the plan saw (null: no live item). */
  expectedHash: string | null;
  /** SHA-256 of the file when known (hashed, or unchanged since planned before); else read when embedded. */
  contentHash: string | undefined;
  /**
   * `added`: no live item; `updated`: the item's content changed; `reembedded`: same content,
   * but the loaded model has no vector of it (a model change).
   */
  kind: 'added' | 'updated' | 'reembedded';
  /** True when the item has a vector of the loaded model now (it stays searchable meanwhile). */
  searchable: boolean;
}

/** A file whose content hash decides what it is. */
export interface HashTask {
  file: ScannedFile;
  metadata: StoredMetadata;
  /** The live item whose file's size or mtime changed; undefined: a file with no live item. */
  item: ListedItem | undefined;
  /** The failure recorded for the file, if any. */
  failure: ItemFailure | undefined;
}

export interface CatalogPlan {
  /** Live items with the same size and mtime and a vector of the loaded model. */
  unchanged: number;
  /** Unchanged items whose id or labels changed (metadata-only writes). */
  relabel: RelabelInput[];
  toHash: HashTask[];
  toEmbed: EmbedTask[];
  /** Files that failed before with the same content: reported, not retried. */
  knownFailures: string[];
  /** Source keys of live items whose file is gone. */
  removals: string[];
}

export interface PlanInput {
  files: readonly ScannedFile[];
  listed: readonly ListedItem[];
  failures: readonly ItemFailure[];
  labels: Labels | undefined;
}

/** The labels of a file: looked up by its id, then by its stem (as the SQLite catalog does). */
export function labelsOf(file: ScannedFile, labels: Labels | undefined): ItemMetadata {
  return labels?.byId.get(file.id) ?? labels?.byId.get(file.stem) ?? {};
}

/** The metadata an item of `file` is stored with. */
export function storedMetadataOf(file: ScannedFile, labels: Labels | undefined): StoredMetadata {
  return { id: file.id, labels: { ...labelsOf(file, labels) }, file: { size: file.size, mtimeMs: file.mtimeMs } };
}

/** JSON with sorted keys (jsonb does not keep key order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** True when the stored metadata has the same shown id and labels as `next`. */
export function sameLabels(stored: Record<string, unknown>, next: StoredMetadata): boolean {
  return stored.id === next.id && canonical(stored.labels ?? {}) === canonical(next.labels);
}

function statOf(stored: Record<string, unknown>): { size: unknown; mtimeMs: unknown } | undefined {
  const f = stored.file;
  return f !== null && typeof f === 'object' ? (f as { size: unknown; mtimeMs: unknown }) : undefined;
}

function isKnownFailure(failure: ItemFailure | undefined, contentHash: string): boolean {
  return failure !== undefined && failure.contentHash === contentHash && CONTENT_FAILURE_CODES.has(failure.code);
}

/** Classifies every scanned file. */
export function planCatalog(input: PlanInput): CatalogPlan {
  const byKey = new Map<string, ListedItem>();
  for (const item of input.listed) byKey.set(item.sourceKey, item);
  const failures = new Map<string, ItemFailure>();
  for (const f of input.failures) failures.set(f.sourceKey, f);
  const plan: CatalogPlan = { unchanged: 0, relabel: [], toHash: [], toEmbed: [], knownFailures: [], removals: [] };
  const seen = new Set<string>();
  for (const file of input.files) {
    const sourceKey = file.relPath;
    seen.add(sourceKey);
    const metadata = storedMetadataOf(file, input.labels);
    const item = byKey.get(sourceKey);
    const failure = failures.get(sourceKey);
    if (item === undefined) {
      // A new file; one that failed before is hashed to see whether it is the same content.
      if (failure !== undefined && failure.contentHash !== '' && CONTENT_FAILURE_CODES.has(failure.code)) {
        plan.toHash.push({ file, metadata, item, failure });
      } else {
        plan.toEmbed.push({
          sourceKey,
          file,
          metadata,
          expectedHash: null,
          contentHash: undefined,
          kind: 'added',
          searchable: false,
        });
      }
      continue;
    }
    const stat = statOf(item.metadata);
    if (stat?.size !== file.size || stat.mtimeMs !== file.mtimeMs) {
      plan.toHash.push({ file, metadata, item, failure });
      continue;
    }
    if (!item.embedded) {
      // Same file, but the loaded model has no vector of it.
      if (isKnownFailure(failure, item.contentHash)) plan.knownFailures.push(sourceKey);
      else plan.toEmbed.push(reembed(file, metadata, item, item.contentHash));
      continue;
    }
    plan.unchanged++;
    if (!sameLabels(item.metadata, metadata)) {
      plan.relabel.push({ sourceKey, expectedHash: item.contentHash, metadata: { ...metadata } });
    }
  }
  for (const item of input.listed) if (!seen.has(item.sourceKey)) plan.removals.push(item.sourceKey);
  return plan;
}

function reembed(file: ScannedFile, metadata: StoredMetadata, item: ListedItem, contentHash: string): EmbedTask {
  return {
    sourceKey: file.relPath,
    file,
    metadata,
    expectedHash: item.contentHash,
    contentHash,
    kind: 'reembedded',
    searchable: false,
  };
}

/** What a hashed file turned out to be. */
export type HashOutcome =
  /** Same content, embedded: only the stored size and mtime (and labels) are written. */
  | { kind: 'touched'; relabel: RelabelInput; labelsChanged: boolean }
  | { kind: 'embed'; task: EmbedTask }
  /** The same content failed before. */
  | { kind: 'known-failure'; sourceKey: string };

/** Settles a hashed file with its SHA-256 `digest`. */
export function resolveHashed(task: HashTask, digest: string): HashOutcome {
  const { file, metadata, item, failure } = task;
  const sourceKey = file.relPath;
  if (isKnownFailure(failure, digest)) return { kind: 'known-failure', sourceKey };
  if (item === undefined) {
    return {
      kind: 'embed',
      task: { sourceKey, file, metadata, expectedHash: null, contentHash: digest, kind: 'added', searchable: false },
    };
  }
  if (digest === item.contentHash) {
    if (!item.embedded) return { kind: 'embed', task: reembed(file, metadata, item, digest) };
    return {
      kind: 'touched',
      relabel: { sourceKey, expectedHash: item.contentHash, metadata: { ...metadata } },
      labelsChanged: !sameLabels(item.metadata, metadata),
    };
  }
  return {
    kind: 'embed',
    task: {
      sourceKey,
      file,
      metadata,
      expectedHash: item.contentHash,
      contentHash: digest,
      kind: 'updated',
      searchable: item.embedded,
    },
  };
}
