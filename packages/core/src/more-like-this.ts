/**
 * The request of a "more like this" press, checked before anything is searched: button payloads
 * come back from chat platforms and browsers, so every field is validated (BAD_REQUEST).
 */
import { LookalikeError } from './errors.js';
import type { MetadataFilters } from './ports.js';

/** Longest item id a press may name (characters). */
export const MAX_ITEM_ID_LENGTH = 512;
/** Most item ids a press may exclude (the chain shown so far). */
export const MAX_EXCLUDE = 500;
/** Most filters a press may carry, and the longest filter name or value. */
export const MAX_FILTERS = 16;
export const MAX_FILTER_LENGTH = 200;

/** A checked "more like this" request. */
export interface MoreRequest {
  itemId: string;
  /** The item itself first, then the chain's ids (deduplicated). */
  exclude: string[];
  /** Undefined when there are none. */
  filters: MetadataFilters | undefined;
}

const bad = (message: string, details: Record<string, unknown> = {}) =>
  new LookalikeError('BAD_REQUEST', `More like this: ${message}`, { details });

function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ITEM_ID_LENGTH) {
    throw bad(`${what} must be a string of 1 to ${MAX_ITEM_ID_LENGTH} characters`);
  }
  return value;
}

/**
 * Checks the item id, the excluded ids and the filters of a press.
 * @throws LookalikeError BAD_REQUEST naming what is wrong
 */
export function checkMoreRequest(itemId: unknown, exclude: unknown, filters: unknown): MoreRequest {
  const id = checkId(itemId, 'the item id');
  const out = new Set<string>([id]);
  if (exclude !== undefined) {
    if (!Array.isArray(exclude)) throw bad('exclude must be a list of item ids');
    if (exclude.length > MAX_EXCLUDE)
      throw bad(`at most ${MAX_EXCLUDE} item ids may be excluded`, { count: exclude.length });
    for (const x of exclude) out.add(checkId(x, 'an excluded id'));
  }
  return { itemId: id, exclude: [...out], filters: checkFilters(filters) };
}

/**
 * Filters as a press carries them: an object of up to MAX_FILTERS non-empty strings.
 * @throws LookalikeError BAD_REQUEST
 */
export function checkFilters(filters: unknown): MetadataFilters | undefined {
  if (filters === undefined || filters === null) return undefined;
  if (typeof filters !== 'object' || Array.isArray(filters)) throw bad('filters must be an object of strings');
  const entries = Object.entries(filters as Record<string, unknown>);
  if (entries.length > MAX_FILTERS) throw bad(`at most ${MAX_FILTERS} filters`, { count: entries.length });
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > MAX_FILTER_LENGTH || typeof v !== 'string' || v.length > MAX_FILTER_LENGTH) {
      throw bad(`filter ${JSON.stringify(k.slice(0, 40))} must be a string of at most ${MAX_FILTER_LENGTH} characters`);
    }
    if (v.trim() !== '') out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : Object.freeze(out);
}
