/**
 * The embedding job on the BullMQ queue: its queue name, its content-derived id (adding the same
 * file content twice is one job) and its data, validated by the worker.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { StoredMetadata } from './types.js';

/**
 * The BullMQ queue of one catalog, which the coordinator fills and that catalog's workers drain:
 * one queue per catalog, because a worker reads the files at its own mount of that catalog's
 * folder. (Catalog names are letters, digits, ".", "_" and "-": no ':' reaches BullMQ's keys.)
 */
export function embedQueueName(catalog: string): string {
  return `lookalike-embed-${catalog}`;
}

/** The BullMQ job name of an embedding job. */
export const EMBED_JOB_NAME = 'embed';

/**
 * The job id of one file content of one catalog: `e` + 40 hex digits of a SHA-256 over the three
 * parts (never an integer, never a ':', which BullMQ refuses in custom ids). The same content
 * planned again (a resumed run, a second coordinator) gets the same id, and BullMQ ignores the add.
 */
export function embedJobId(catalog: string, sourceKey: string, contentHash: string): string {
  const h = createHash('sha256');
  for (const part of [catalog, sourceKey, contentHash]) {
    h.update(String(Buffer.byteLength(part)));
    h.update(':');
    h.update(part);
  }
  return `e${h.digest('hex').slice(0, 40)}`;
}

const storedMetadataSchema = z.object({
  id: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  file: z.object({ size: z.number().int().nonnegative(), mtimeMs: z.number() }).optional(),
});

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

/** What an embedding job carries: enough to embed and write the item without the coordinator. */
export const embedJobSchema = z.object({
  catalog: z.string().min(1),
  /** The file path relative to the images folder, `/`-separated. */
  sourceKey: z.string().min(1),
  /** SHA-256 of the file bytes the plan saw. */
  contentHash: sha256,
  /** The live item's content hash the plan saw; null: no live item (a new file). */
  expectedHash: sha256.nullable(),
  metadata: storedMetadataSchema,
  /** `modelKey(weights)` of the vectors to write. */
  model: z.string().min(1),
  /** The `reindex_runs` row the job belongs to (where its outcome is counted). */
  runId: z.number().int().positive(),
});

export interface EmbedJobData {
  catalog: string;
  sourceKey: string;
  contentHash: string;
  expectedHash: string | null;
  metadata: StoredMetadata;
  model: string;
  runId: number;
}

/** Parses job data; `error` says what is wrong (for the failure record). */
export function parseEmbedJob(data: unknown): { ok: true; data: EmbedJobData } | { ok: false; error: string } {
  const r = embedJobSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'data' : issue.path.join('.');
    return { ok: false, error: `invalid job ${where}: ${issue?.message ?? 'malformed'}` };
  }
  const { metadata, ...rest } = r.data;
  const stored: StoredMetadata = { id: metadata.id, labels: metadata.labels };
  if (metadata.file !== undefined) stored.file = metadata.file;
  return { ok: true, data: { ...rest, metadata: stored } };
}

export interface EmbedJobOptionsInput {
  attempts: number;
  /** First retry delay; doubled each attempt. */
  backoffMs: number;
}

/** Failed jobs stay this long in BullMQ (their failedReason, for operators). */
export const FAILED_JOB_AGE_SECONDS = 7 * 24 * 3600;

/** The options of one embedding job. */
export function embedJobOptions(jobId: string, o: EmbedJobOptionsInput) {
  return {
    jobId,
    attempts: o.attempts,
    backoff: { type: 'exponential', delay: o.backoffMs },
    removeOnComplete: true,
    removeOnFail: { age: FAILED_JOB_AGE_SECONDS },
  } as const;
}
