/**
 * Slack renderings of answers, errors and reindex progress (Block Kit + plain-text fallbacks).
 */
import {
  type Answer,
  formatProgressBar,
  formatResultLine,
  formatSimilarity,
  formatSummary,
  itemSubtitle,
  itemTitle,
  type MetadataFilters,
  type Notice,
  type ReindexProgress,
  type ReindexSummary,
} from '@lookalike/core';
import type { types } from '@slack/bolt';

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

/**
 * The Block Kit list posted beside the collage: one section per result (rank, name,
 * articleType, colour, similarity), then the notices (untrained model, no close match, still indexing…).
 */
export function renderAnswer(answer: Answer, intro?: string): { text: string; blocks: Block[] } {
  const blocks: Block[] = [];
  const heading = intro ?? 'Closest matches in the catalog';
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${escapeMrkdwn(heading)}*` } });
  for (const item of answer.results) {
    const sub = itemSubtitle(item);
    const lines = [`*${item.rank}. ${escapeMrkdwn(itemTitle(item))}*`];
    lines.push(
      [sub.length > 0 ? escapeMrkdwn(sub) : undefined, `similarity ${formatSimilarity(item.similarity)}`]
        .filter((s) => s !== undefined)
        .join(' · '),
    );
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } });
  }
  if (answer.results.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: 'No catalog item matched.' } });
  }
  const notes = renderNotices(answer.notices);
  notes.push(`Model: ${escapeMrkdwn(answer.weights.description)}`);
  blocks.push({ type: 'context', elements: notes.map((text) => ({ type: 'mrkdwn', text })) });
  const text = [heading, ...answer.results.map(formatResultLine), ...answer.notices.map((n) => n.text)].join('\n');
  return { text, blocks };
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

/** The reindex message once finished. */
export function renderSummary(summary: ReindexSummary): string {
  return `:white_check_mark: ${formatSummary(summary)}. The catalog now has ${summary.total} items.`;
}
