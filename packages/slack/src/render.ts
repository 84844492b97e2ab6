/**
 * Slack renderings of answers, errors and reindex progress (Block Kit + plain-text fallbacks).
 */
import {
  type Answer,
  formatProgressBar,
  formatResultLine,
  formatSimilarity,
  formatSummary,
  itemLink,
  itemPrice,
  itemSubtitle,
  itemTitle,
  type MetadataFilters,
  type Notice,
  type ReindexProgress,
  type ReindexSummary,
} from '@lookalike/core';
import type { types } from '@slack/bolt';
import { chainIds, MORE_ACTIONS, moreButtonValue } from './more-value.js';

export type Block = types.KnownBlock;

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** "gender Women · articleType Shirts", or '' without filters. */
export function describeFilters(filters: MetadataFilters | undefined): string {
  if (filters === undefined) return '';
  return Object.entries(filters)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ');
}

/** A link in mrkdwn (`<url|text>`): the text escaped, `|` and `>` in the URL percent-encoded. */
function mrkdwnLink(url: string, text: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/>/g, '%3E')}|${escapeMrkdwn(text).replace(/\|/g, '¦')}>`;
}

/** Slack's limits: a section's text, a button's label, a URL, blocks per message. */
const SECTION_MAX = 3000;
const URL_MAX = 3000;
const MAX_BLOCKS = 50;

/**
 * The Block Kit list posted beside the collage: one section per result (rank, the name linked
 * to the product page when there is one, price, brand, category, colour, similarity) with its
 * buttons ("More like this", whose value carries the item id, the filters and the chain shown so
 * far; "Open", a link button, when the item has a link), then the notices (untrained model, no
 * close match, still indexing…).
 */
export function renderAnswer(answer: Answer, intro?: string): { text: string; blocks: Block[] } {
  const blocks: Block[] = [];
  const heading = intro ?? 'Closest matches in the catalog';
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${escapeMrkdwn(heading)}*` } });
  const chain = chainIds(answer);
  for (const item of answer.results) {
    const link = itemLink(item);
    const title = itemTitle(item);
    const sub = itemSubtitle(item);
    const price = itemPrice(item);
    const name = link === undefined || link.length > URL_MAX ? escapeMrkdwn(title) : mrkdwnLink(link, title);
    const lines = [`*${item.rank}. ${name}*`];
    lines.push(
      [
        price.length > 0 ? `*${escapeMrkdwn(price)}*` : undefined,
        sub.length > 0 ? escapeMrkdwn(sub) : undefined,
        `similarity ${formatSimilarity(item.similarity)}`,
      ]
        .filter((s) => s !== undefined)
        .join(' · '),
    );
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, SECTION_MAX) } });
    const buttons = resultButtons(item.id, item.rank, link, chain, answer.filters);
    if (buttons.length > 0 && blocks.length < MAX_BLOCKS - 2) {
      blocks.push({ type: 'actions', block_id: `result_${item.rank}`, elements: buttons });
    }
  }
  if (answer.results.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: 'No catalog item matched.' } });
  }
  const notes = renderNotices(answer.notices);
  notes.push(`Model: ${escapeMrkdwn(answer.weights.description)}`);
  blocks.push({ type: 'context', elements: notes.map((text) => ({ type: 'mrkdwn', text })) });
  // The fallback text is mrkdwn too (notifications, clients without blocks): the results and
  // notices are escaped like the blocks, so a product title from a feed cannot `<!channel>` anyone
  // or masquerade as a link. The heading is the caller's own text (it may mention the asker).
  const text = [
    heading,
    ...[...answer.results.map(formatResultLine), ...answer.notices.map((n) => n.text)].map(escapeMrkdwn),
  ].join('\n');
  return { text, blocks };
}

/** "More like this" (when its value fits) and "Open" (when the item links to a product page). */
function resultButtons(
  itemId: string,
  rank: number,
  link: string | undefined,
  chain: readonly string[],
  filters: MetadataFilters | undefined,
): types.Button[] {
  const out: types.Button[] = [];
  const value = moreButtonValue(itemId, chain, filters);
  if (value !== undefined) {
    out.push({
      type: 'button',
      action_id: MORE_ACTIONS.more,
      text: { type: 'plain_text', text: 'More like this' },
      value,
      accessibility_label: `More like result ${rank}`,
    });
  }
  if (link !== undefined && link.length <= URL_MAX) {
    out.push({
      type: 'button',
      action_id: MORE_ACTIONS.open,
      text: { type: 'plain_text', text: 'Open' },
      url: link,
      accessibility_label: `Open result ${rank}`,
    });
  }
  return out;
}

/** One mrkdwn line per notice, from its text: :warning: for warnings, :information_source: otherwise. */
export function renderNotices(notices: readonly Notice[]): string[] {
  return notices.map((n) => `${n.level === 'warn' ? ':warning:' : ':information_source:'} ${escapeMrkdwn(n.text)}`);
}

/** The reindex message while it runs. */
export function renderProgress(progress: ReindexProgress | null, startedBy?: string): string {
  const who = startedBy === undefined ? '' : ` (started by <@${startedBy}>)`;
  const bar = progress === null ? 'starting…' : formatProgressBar(progress);
  return `:arrows_counterclockwise: Reindexing the catalog${who}\n${bar}`;
}

/** The action_ids of the buttons under a /reindex refused for mass removal (`app.action`). */
export const REINDEX_ACTIONS = Object.freeze({ confirm: 'reindex_confirm', cancel: 'reindex_cancel' } as const);

const REINDEX_BUTTON_VALUE = /^([^:\s]{1,64})(?::(\d{1,16}))?$/;

/**
 * The value of a /reindex button: the asking admin's user id and the count the refusal showed
 * (`wouldRemove`), so a press is understood after a restart and a confirm removes no more.
 * @example reindexButtonValue('U1', 8) === 'U1:8'
 */
export function reindexButtonValue(askerId: string, maxRemovals?: number): string {
  return maxRemovals === undefined ? askerId : `${askerId}:${maxRemovals}`;
}

/**
 * The asker and count of a /reindex button's value. A value without a count (buttons from before
 * the count was added) has `maxRemovals` undefined: its confirm runs a plain reindex, which asks
 * again. A malformed value names no asker (`''`: nobody's press counts).
 */
export function parseReindexButtonValue(value: string | undefined): { asker: string; maxRemovals: number | undefined } {
  const m = REINDEX_BUTTON_VALUE.exec(value ?? '');
  if (m === null) return { asker: '', maxRemovals: undefined };
  const maxRemovals = m[2] === undefined ? undefined : Number(m[2]);
  if (maxRemovals !== undefined && !Number.isSafeInteger(maxRemovals)) return { asker: '', maxRemovals: undefined };
  return { asker: m[1]!, maxRemovals };
}

/** "Remove 1,234 items and reindex" */
export function confirmRemovalLabel(wouldRemove: number): string {
  return `Remove ${wouldRemove.toLocaleString('en-US')} ${wouldRemove === 1 ? 'item' : 'items'} and reindex`;
}

/**
 * The /reindex message once the catalog refused a mass removal: its sentence, who may confirm,
 * and the danger "Remove N items and reindex" and "Cancel" buttons. Each button's value is the
 * asking admin's user id and N (`reindexButtonValue`), so a press is understood after a restart
 * and a confirm removes at most N.
 */
export function renderMassRemoval(
  sentence: string,
  askerId: string,
  removal: { wouldRemove: number },
): { text: string; blocks: Block[] } {
  const label = confirmRemovalLabel(removal.wouldRemove);
  const text = `:warning: ${escapeMrkdwn(sentence)}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Only <@${askerId}> can confirm or cancel.` }] },
      {
        type: 'actions',
        block_id: 'reindex_confirmation',
        elements: [
          {
            type: 'button',
            action_id: REINDEX_ACTIONS.confirm,
            style: 'danger',
            text: { type: 'plain_text', text: label },
            value: reindexButtonValue(askerId, removal.wouldRemove),
            confirm: {
              title: { type: 'plain_text', text: 'Remove items?' },
              text: { type: 'mrkdwn', text: `${label}: the removed items must be embedded again if they come back.` },
              confirm: { type: 'plain_text', text: 'Remove' },
              deny: { type: 'plain_text', text: 'Keep them' },
              style: 'danger',
            },
          },
          {
            type: 'button',
            action_id: REINDEX_ACTIONS.cancel,
            text: { type: 'plain_text', text: 'Cancel' },
            value: reindexButtonValue(askerId, removal.wouldRemove),
          },
        ],
      },
    ],
  };
}

/** The /reindex message once the asking admin pressed "Cancel". */
export function renderReindexCancelled(user: string): string {
  return `Reindex cancelled by <@${user}>. Nothing was changed.`;
}

/** The private answer to anyone but the asking admin who presses a /reindex button. */
export const REINDEX_NOT_YOURS_TEXT = 'Only the admin who ran this /reindex can confirm or cancel it.';

/** The reindex message once finished. */
export function renderSummary(summary: ReindexSummary): string {
  return `:white_check_mark: ${formatSummary(summary)}. The catalog now has ${summary.total} items.`;
}
