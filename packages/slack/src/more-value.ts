/**
 * The value of a "More like this" button under a Slack answer: JSON `{ itemId, filters, exclude }`
 * (at most 2000 characters, Slack's limit), so a press needs no server memory and works after a
 * restart. `exclude` is the chain shown so far: what the answer excluded plus its results.
 */
import {
  type Answer,
  checkMoreRequest,
  LookalikeError,
  MAX_EXCLUDE,
  type MetadataFilters,
  type MoreRequest,
} from '@lookalike/core';

/** Slack's limit on a button's value. */
export const BUTTON_VALUE_MAX = 2000;

/** The action_ids of the buttons under each result (`app.action`). */
export const MORE_ACTIONS = Object.freeze({ more: 'more_like_this', open: 'open_product' } as const);

/** What a "More like this" button carries. */
export interface MoreButtonValue {
  itemId: string;
  filters?: MetadataFilters;
  exclude: string[];
}

/** The chain a press on one of the answer's results continues: what it excluded, then its results. */
export function chainIds(answer: Pick<Answer, 'results' | 'excluded'>): string[] {
  return [...new Set([...(answer.excluded ?? []), ...answer.results.map((r) => r.id)])];
}

/**
 * The button value for more like `itemId` after `chain`. When it would pass 2000 characters the
 * oldest ids of the chain are left out (they may be shown again); undefined when even the item id
 * alone does not fit (the result then has no button).
 */
export function moreButtonValue(
  itemId: string,
  chain: readonly string[],
  filters: MetadataFilters | undefined,
): string | undefined {
  const exclude = chain.filter((id) => id !== itemId).slice(-(MAX_EXCLUDE - 1));
  const f = filters === undefined || Object.keys(filters).length === 0 ? {} : { filters };
  for (;;) {
    const text = JSON.stringify({ itemId, ...f, exclude });
    if (text.length <= BUTTON_VALUE_MAX) return text;
    if (exclude.length === 0) return undefined;
    exclude.splice(0, Math.max(1, Math.ceil(exclude.length / 8)));
  }
}

/**
 * Reads a button value back, checked like every press (see `checkMoreRequest`).
 * @throws LookalikeError BAD_REQUEST when it is not such a value
 */
export function parseMoreButtonValue(value: string | undefined): MoreRequest {
  if (value === undefined || value.length === 0 || value.length > BUTTON_VALUE_MAX) {
    throw new LookalikeError('BAD_REQUEST', 'More like this: the button has no usable value');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new LookalikeError('BAD_REQUEST', 'More like this: the button value is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new LookalikeError('BAD_REQUEST', 'More like this: the button value is not an object');
  }
  const v = parsed as Record<string, unknown>;
  return checkMoreRequest(v.itemId, v.exclude ?? [], v.filters);
}
