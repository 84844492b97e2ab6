/**
 * Pure rendering: an Answer becomes a Discord message payload. No client, no I/O.
 */

import type { MassRemoval } from '@lookalike/chat';
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
  type Notice,
  type ReindexProgress,
  type ReindexSummary,
  type ResultImage,
  type SimilarItem,
} from '@lookalike/core';
import { ActionRowBuilder, AttachmentBuilder, ButtonBuilder, ButtonStyle, EmbedBuilder } from 'discord.js';
import { reindexButtonId } from './commands.js';
import { chainFooter, chainOf, MAX_MORE_BUTTONS, moreButtonId } from './more-chain.js';

/** The collage's file name; the embed shows it through `attachment://`. */
export const COLLAGE_FILENAME = 'lookalike-collage.jpg';
/** Discord accepts at most 10 attachments per message; one is the collage. */
const MAX_EXTRA_IMAGES = 9;
/** Lookalike's embed colour. */
const EMBED_COLOUR = 0x5865f2;

const IMAGE_EXTENSION = /\.(jpe?g|png|webp|gif|avif|tiff?|bmp|heic|heif)$/i;

/** What the adapter needs to know about an attachment to decide whether to try it. */
export interface AttachmentLike {
  name: string;
  contentType: string | null;
  url: string;
}

/**
 * True when an attachment looks like an image (content type image/* or an image extension).
 * The real check is the service's sniffing of the bytes.
 */
export function isImageAttachment(att: AttachmentLike): boolean {
  if (att.contentType?.toLowerCase().startsWith('image/') === true) return true;
  return IMAGE_EXTENSION.test(att.name.split('?')[0] ?? '');
}

/** "1. Turtle Check Men Navy Blue Shirt — Shirts · Navy Blue — 87%" (markdown-escaped). */
export function resultLine(item: SimilarItem): string {
  return escapeMarkdown(formatResultLine(item));
}

function escapeMarkdown(s: string): string {
  return s.replace(/([\\*_`~|>[\]()])/g, '\\$1');
}

/** A link target that cannot end a markdown link early: parentheses, spaces and `<>` percent-encoded. */
function markdownUrl(url: string): string {
  return url.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * One result of the embed: "1. [Title](https://shop/p/1) — Acme · Shirts — 49.90 EUR — 87%"
 * when the item has an http(s) link, else today's line (`resultLine`).
 */
export function resultMarkdown(item: SimilarItem): string {
  const link = itemLink(item);
  if (link === undefined) return resultLine(item);
  const title = `${item.rank}. [${escapeMarkdown(itemTitle(item))}](${markdownUrl(link)})`;
  return [title, escapeMarkdown(itemSubtitle(item)), escapeMarkdown(itemPrice(item)), formatSimilarity(item.similarity)]
    .filter((s) => s.length > 0)
    .join(' — ');
}

/** A message body that fits both `message.reply()` and `interaction.editReply()`. */
export interface RenderedAnswer {
  content?: string;
  embeds: EmbedBuilder[];
  files: AttachmentBuilder[];
  /** The "more like this" buttons and the link to the top result (absent without results). */
  components?: ActionRowBuilder<ButtonBuilder>[];
}

/** Discord's limit on an embed description. */
const DESCRIPTION_MAX = 4096;

/** The result lines, as many whole lines as fit in a description. */
function describeResults(results: readonly SimilarItem[]): string {
  if (results.length === 0) return 'No results.';
  let text = '';
  for (const line of results.map(resultMarkdown)) {
    const next = text === '' ? line : `${text}\n${line}`;
    if (next.length > DESCRIPTION_MAX) break;
    text = next;
  }
  return text === '' ? resultLine(results[0]!).slice(0, DESCRIPTION_MAX) : text;
}

/**
 * The buttons under an answer: "1"…"N" (secondary) ask for more like that result, five to a
 * row; "Open #1" (a link button) opens the top result's product page when it has one.
 */
export function renderAnswerButtons(answer: Pick<Answer, 'results'>, more: boolean): ActionRowBuilder<ButtonBuilder>[] {
  const buttons: ButtonBuilder[] = [];
  if (more) {
    for (const item of answer.results.slice(0, MAX_MORE_BUTTONS)) {
      buttons.push(
        new ButtonBuilder()
          .setCustomId(moreButtonId(item.rank))
          .setStyle(ButtonStyle.Secondary)
          .setLabel(String(item.rank)),
      );
    }
  }
  const top = answer.results[0];
  const link = top === undefined ? undefined : itemLink(top);
  if (link !== undefined && link.length <= 512) {
    buttons.push(new ButtonBuilder().setStyle(ButtonStyle.Link).setURL(link).setLabel('Open #1'));
  }
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  for (let i = 0; i < buttons.length; i += 5) {
    rows.push(new ActionRowBuilder<ButtonBuilder>().addComponents(buttons.slice(i, i + 5)));
  }
  return rows;
}

/**
 * The message body of an answer: the notices (untrained, no close match, still indexing…) as
 * text, the results as an embed (linked titles and prices when the catalog has them; the chain a
 * "more like this" press reads back in its footer), the collage as a file, and the buttons.
 */
export function renderAnswer(answer: Answer, extraImages: readonly ResultImage[] = []): RenderedAnswer {
  const count = answer.results.length;
  const title =
    answer.sourceItemId === undefined
      ? count === 1
        ? '1 similar item'
        : `${count} similar items`
      : `${count} more like this`;
  const base = `${answer.weights.description} · request ${answer.requestId}`;
  const footer = count > 0 ? chainFooter(base, chainOf(answer)) : undefined;
  const embed = new EmbedBuilder()
    .setColor(EMBED_COLOUR)
    .setTitle(title)
    .setDescription(describeResults(answer.results))
    .setImage(`attachment://${COLLAGE_FILENAME}`)
    .setFooter({ text: (footer ?? base).slice(0, 2048) });
  const files = [new AttachmentBuilder(answer.collage, { name: COLLAGE_FILENAME })];
  for (const img of extraImages.slice(0, MAX_EXTRA_IMAGES)) {
    files.push(new AttachmentBuilder(img.bytes, { name: img.filename }));
  }
  const notices = renderNotices(answer.notices);
  const components = renderAnswerButtons(answer, footer !== undefined);
  return {
    ...(notices.length > 0 ? { content: notices.slice(0, 2000) } : {}),
    embeds: [embed],
    files,
    ...(components.length > 0 ? { components } : {}),
  };
}

/** One line per notice, from its text: ⚠️ for warnings (results not meaningful), ℹ️ otherwise. */
export function renderNotices(notices: readonly Notice[]): string {
  return notices.map((n) => `${n.level === 'warn' ? '⚠️' : 'ℹ️'} ${escapeMarkdown(n.text)}`).join('\n');
}

/** "Reindexing… [██████░░░░] 62% · 41.3 img/s · ETA 0:12 · embedding" */
export function renderProgress(p: ReindexProgress): string {
  return `Reindexing… \`${formatProgressBar(p)}\``;
}

/** "Reindex done in 1.4 s: 2 added, 0 updated, 1 removed, 0 failed" */
export function renderSummary(s: ReindexSummary): string {
  return escapeMarkdown(formatSummary(s));
}

/** The /reindex refusal that asks for confirmation: the catalog's sentence (with the counts). */
export function renderMassRemoval(sentence: string): string {
  return `⚠️ ${escapeMarkdown(sentence)}`;
}

/** "Remove 1,234 items and reindex" */
export function confirmRemovalLabel(removal: Pick<MassRemoval, 'wouldRemove'>): string {
  const n = removal.wouldRemove;
  return `Remove ${n.toLocaleString('en-US')} ${n === 1 ? 'item' : 'items'} and reindex`;
}

/**
 * The buttons under a /reindex refusal: a danger "Remove N items and reindex" and a "Cancel",
 * both naming the admin who asked and the count N in their custom_id (a confirm removes at most N).
 */
export function renderConfirmButtons(
  askerId: string,
  removal: Pick<MassRemoval, 'wouldRemove'>,
): ActionRowBuilder<ButtonBuilder>[] {
  return [
    new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder()
        .setCustomId(reindexButtonId('confirm', askerId, removal.wouldRemove))
        .setStyle(ButtonStyle.Danger)
        .setLabel(confirmRemovalLabel(removal)),
      new ButtonBuilder()
        .setCustomId(reindexButtonId('cancel', askerId, removal.wouldRemove))
        .setStyle(ButtonStyle.Secondary)
        .setLabel('Cancel'),
    ),
  ];
}

/** The message once the admin pressed "Remove N items and reindex" (progress edits follow). */
export const REINDEX_CONFIRMED_TEXT = 'Removal confirmed: reindexing…';
/** The message once the admin pressed "Cancel". */
export const REINDEX_CANCELLED_TEXT = 'Reindex cancelled. Nothing was changed.';
/** The private answer to anyone but the asking admin who presses one of the buttons. */
export const REINDEX_NOT_YOURS_TEXT = 'Only the admin who ran this /reindex can confirm or cancel it.';
