/**
 * The codes of a skipped feed row, and the FEED_INVALID error for a feed that cannot be read at all.
 */
import { LookalikeError } from '@lookalike/core';

/** Why a row was skipped (`FeedRow` with `ok: false`). The feed goes on after each. */
export const FEED_ROW_CODES = [
  /** No value in the id column (Merchant `id`, Shopify `Handle`). */
  'FEED_ROW_NO_ID',
  /** No value in the image column (Merchant `image_link`, Shopify `Image Src`). */
  'FEED_ROW_NO_IMAGE',
  /** The image URL or the product link is not http(s) (`javascript:`, `file:`, `data:` …). */
  'FEED_ROW_BAD_URL',
  /** An id seen before in this feed: the first row wins. */
  'FEED_ROW_DUPLICATE_ID',
  /** A row that cannot be parsed: broken quotes, bad JSON, longer than `maxRowBytes`, not an object. */
  'FEED_ROW_MALFORMED',
  /** Shopify `Status` draft or archived. */
  'FEED_ROW_INACTIVE',
] as const;
export type FeedRowCode = (typeof FEED_ROW_CODES)[number];

/** A row skipped with its code. */
export interface FeedRowSkip {
  ok: false;
  line: number;
  code: FeedRowCode;
  message: string;
}

export function skip(line: number, code: FeedRowCode, message: string): FeedRowSkip {
  return { ok: false, line, code, message };
}

/** FEED_INVALID naming the feed and, when known, the line. */
export function feedInvalid(
  message: string,
  context: { name?: string | undefined; line?: number | undefined; format?: string | undefined } = {},
  cause?: unknown,
): LookalikeError {
  const where = [context.name, context.line === undefined ? undefined : `line ${context.line}`]
    .filter((x) => x !== undefined)
    .join(', ');
  const details: Record<string, unknown> = {};
  if (context.name !== undefined) details.name = context.name;
  if (context.line !== undefined) details.line = context.line;
  if (context.format !== undefined) details.format = context.format;
  return new LookalikeError('FEED_INVALID', where === '' ? message : `${where}: ${message}`, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}
