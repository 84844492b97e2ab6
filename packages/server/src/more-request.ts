/**
 * The body of POST /api/more: JSON `{ itemId, filters?, exclude?, k? }` (what the page's "More
 * like this" button sends), read with a small byte limit and checked before the service sees it.
 */
import type { IncomingMessage } from 'node:http';
import { checkMoreRequest, LookalikeError, type MoreRequest } from '@lookalike/core';

/** Largest accepted body: an item id, a few filters and a chain of up to MAX_EXCLUDE ids. */
export const MORE_BODY_MAX = 256 * 1024;

export interface MoreBody extends MoreRequest {
  /** Undefined: the service's default. */
  k: number | undefined;
}

const bad = (message: string) => new LookalikeError('BAD_REQUEST', `POST /api/more: ${message}`);

/**
 * Reads and checks the body.
 * @throws LookalikeError BAD_REQUEST (not JSON, too large, not an object, a bad field)
 */
export async function readMoreBody(req: IncomingMessage, maxBytes = MORE_BODY_MAX): Promise<MoreBody> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw bad('the body must be application/json');
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw bad(`the body is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw bad(`the body is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw bad('the body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('the body must be an object');
  const body = parsed as Record<string, unknown>;
  let k: number | undefined;
  if (body.k !== undefined) {
    if (typeof body.k !== 'number' || !Number.isInteger(body.k) || body.k < 1 || body.k > 10) {
      throw bad('k must be a whole number from 1 to 10');
    }
    k = body.k;
  }
  return { ...checkMoreRequest(body.itemId, body.exclude, body.filters), k };
}
