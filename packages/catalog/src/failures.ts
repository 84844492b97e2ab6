/**
 * Which errors skip one file (recorded as a failure, never fatal to the run), and the weights
 * mismatch error.
 */
import { LookalikeError, type WeightsInfo } from '@lookalike/core';

/** Error codes of a file that cannot be embedded: it is skipped and reported, never fatal. */
const SKIPPABLE_CODES = new Set(['UNSUPPORTED_IMAGE', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE']);
/** File-system errors of one file (it vanished, is unreadable, …). */
const SKIPPABLE_ERRNOS = new Set(['EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'EIO']);

/** True when `err` concerns one file only (bad image, unreadable file). */
export function isSkippable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return err instanceof LookalikeError ? SKIPPABLE_CODES.has(code) : SKIPPABLE_ERRNOS.has(code);
}

/** The code and message recorded for a skipped file. */
export function failureOf(err: unknown): { code: string; message: string } {
  const e = err as { code?: string; message?: string };
  return { code: String(e.code), message: String(e.message ?? err) };
}

export function mismatchError(stored: { source: string; md5: string }, loaded: WeightsInfo): LookalikeError {
  return new LookalikeError(
    'INDEX_MODEL_MISMATCH',
    `Catalog was built with weights ${stored.source} (md5 ${stored.md5}); loaded weights are ${loaded.source} (md5 ${loaded.md5}). Run \`lookalike index DIR\` or /reindex to rebuild it.`,
    { details: { stored, loaded: { source: loaded.source, md5: loaded.md5 } } },
  );
}
