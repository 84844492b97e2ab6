/**
 * "More like this" on Discord without server memory: each numbered button's custom_id names only
 * its rank (`more:<rank>`), and what the press needs besides (the shown results' item ids, the
 * ids shown earlier in the chain, the filters) is written into the answer's embed footer as one
 * line and read back from the message the button is on, so a press works after a restart and on
 * any replica.
 *
 * The line is `ids: <id> <id>… [· seen: <id>…] [· filters: <name>=<value>…]`, every token
 * URI-encoded (so it holds no spaces, colons or `·`, and is never a keyword), e.g.
 * `ids: 10003 10017 · seen: 10001 · filters: gender=Men`.
 */
import { type Answer, LookalikeError, MAX_EXCLUDE, type MetadataFilters } from '@lookalike/core';

/** What a press reads back from its message. */
export interface MoreChain {
  /** The shown results' item ids, best first: button N is `ids[N - 1]`. */
  ids: string[];
  /** Ids shown earlier in the chain (the pressed items included), oldest first. */
  seen: string[];
  filters: MetadataFilters;
}

/** Discord's limit on an embed footer. */
export const FOOTER_MAX = 2048;
/** Most results a message carries buttons for (two rows of five). */
export const MAX_MORE_BUTTONS = 10;

const MORE_BUTTON = /^more:(\d{1,2})$/;

/**
 * The custom_id of the "more like this" button of result `rank` (1-based): at most 8 characters.
 * @example moreButtonId(3) === 'more:3'
 */
export function moreButtonId(rank: number): string {
  return `more:${rank}`;
}

/** The rank a "more like this" button names, or undefined for other components (and malformed ids). */
export function parseMoreButtonId(customId: string): number | undefined {
  const m = MORE_BUTTON.exec(customId);
  if (m === null) return undefined;
  const rank = Number(m[1]);
  return rank >= 1 && rank <= MAX_MORE_BUTTONS ? rank : undefined;
}

/** The chain an answer continues: its results, and what it excluded (shown earlier) as seen. */
export function chainOf(answer: Pick<Answer, 'results' | 'excluded' | 'filters'>): MoreChain {
  const ids = answer.results.slice(0, MAX_MORE_BUTTONS).map((r) => r.id);
  const shown = new Set(ids);
  const seen = [...new Set(answer.excluded ?? [])].filter((id) => !shown.has(id));
  return { ids, seen, filters: { ...(answer.filters ?? {}) } };
}

/** The footer line of a chain (see the module comment). */
export function chainLine(chain: MoreChain): string {
  const parts = [['ids:', ...chain.ids.map(encodeURIComponent)].join(' ')];
  if (chain.seen.length > 0) parts.push(['seen:', ...chain.seen.map(encodeURIComponent)].join(' '));
  const filters = Object.entries(chain.filters);
  if (filters.length > 0) {
    parts.push(['filters:', ...filters.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)].join(' '));
  }
  return parts.join(' · ');
}

/**
 * The embed footer: `base`, then the chain line on its own line. When it would pass Discord's
 * limit, the oldest seen ids are left out (they may be shown again); undefined when even the
 * results' ids do not fit (the answer then has no "more like this" buttons).
 */
export function chainFooter(base: string, chain: MoreChain): string | undefined {
  const head = base.slice(0, FOOTER_MAX);
  const seen = chain.seen.slice(-MAX_EXCLUDE);
  for (;;) {
    const text = `${head}\n${chainLine({ ...chain, seen })}`;
    if (text.length <= FOOTER_MAX) return text;
    if (seen.length === 0) return undefined;
    seen.splice(0, Math.max(1, Math.ceil(seen.length / 8)));
  }
}

function decode(token: string): string {
  try {
    return decodeURIComponent(token);
  } catch {
    throw chainError('a token of the chain line is not URI-encoded');
  }
}

const chainError = (why: string) =>
  new LookalikeError('BAD_REQUEST', `More like this: the answer's chain cannot be read (${why})`);

/**
 * Reads the chain back from an embed footer (its last line starting with `ids: `).
 * @throws LookalikeError BAD_REQUEST when there is no chain line or it is malformed
 */
export function parseChain(footer: string | null | undefined): MoreChain {
  const line = (footer ?? '')
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('ids: '));
  if (line === undefined) throw chainError('no chain line in the footer');
  const chain: MoreChain = { ids: [], seen: [], filters: {} };
  const filters: Record<string, string> = {};
  let section: 'ids' | 'seen' | 'filters' | undefined;
  for (const token of line.split(' ')) {
    if (token === '') continue;
    if (token === 'ids:' || token === 'seen:' || token === 'filters:') {
      section = token.slice(0, -1) as 'ids' | 'seen' | 'filters';
      continue;
    }
    if (token === '·') continue;
    if (section === 'ids') chain.ids.push(decode(token));
    else if (section === 'seen') chain.seen.push(decode(token));
    else if (section === 'filters') {
      const eq = token.indexOf('=');
      if (eq <= 0) throw chainError('a filter without a name');
      filters[decode(token.slice(0, eq))] = decode(token.slice(eq + 1));
    }
  }
  if (chain.ids.length === 0 || chain.ids.length > MAX_MORE_BUTTONS) throw chainError('no result ids');
  if (chain.ids.some((id) => id === '') || chain.seen.some((id) => id === '')) throw chainError('an empty id');
  if (chain.seen.length > MAX_EXCLUDE) throw chainError('too many seen ids');
  chain.filters = filters;
  return chain;
}
