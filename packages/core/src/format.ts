/**
 * Plain-text renderers shared by the chat adapters and the CLI.
 */
import { basename, extname } from 'node:path';
import type { ReindexProgress, ReindexSummary, SimilarItem } from './ports.js';

/** "0:12", "1:05:09"; "?" when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/**
 * Similarity (1 − d/2) as a percentage clamped to 0–100, e.g. "87%". Above 99% one decimal
 * is kept (rounded down) so near-identical items still differ: "99.8%".
 */
export function formatSimilarity(similarity: number): string {
  const pct = Math.max(0, Math.min(1, similarity)) * 100;
  if (pct >= 99 && pct < 100) return `${(Math.floor(pct * 10) / 10).toFixed(1)}%`;
  return `${Math.round(pct)}%`;
}

/**
 * A one-line progress bar, e.g. `[██████░░░░] 62% · 41.3 img/s · ETA 0:12 · embedding`.
 * @param width number of cells in the bar. @defaultValue 10
 */
export function formatProgressBar(progress: ReindexProgress, width = 10): string {
  const ratio = progress.total > 0 ? Math.max(0, Math.min(1, progress.done / progress.total)) : 0;
  const filled = Math.round(ratio * width);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
  const parts = [`${bar} ${Math.floor(ratio * 100)}%`];
  if (progress.rate > 0) parts.push(`${progress.rate.toFixed(1)} img/s`);
  if (progress.phase !== 'done') parts.push(`ETA ${formatDuration(progress.etaSeconds)}`);
  parts.push(progress.phase);
  return parts.join(' · ');
}

/** "Reindex done in 12.3 s: 5 added, 1 updated, 2 removed, 0 failed". */
export function formatSummary(summary: ReindexSummary): string {
  const secs = (summary.durationMs / 1000).toFixed(1);
  let line = `Reindex done in ${secs} s: ${summary.added} added, ${summary.updated} updated, ${summary.removed} removed, ${summary.failed} failed`;
  if (summary.failed > 0 && summary.failedFiles.length > 0) {
    const shown = summary.failedFiles.slice(0, 5).join(', ');
    const more = summary.failed > 5 ? ` and ${summary.failed - 5} more` : '';
    line += ` (${shown}${more})`;
  }
  return line;
}

/** Line breaks, tabs and other control characters (a feed's text is untrusted). */
const BREAKS = /[\s\p{Cc}\u2028\u2029]+/gu;

/**
 * `text` safe to print on a terminal: control characters (escape sequences included) and line
 * breaks become one space, so a feed's ids cannot move the cursor or fake table rows.
 */
export function terminalSafe(text: string): string {
  return text.replace(BREAKS, ' ');
}

/**
 * The first value that is a non-empty string after trimming, or undefined. Whitespace runs and
 * control characters become one space: a feed title cannot start a fake result line (or a
 * markdown heading or quote) in a chat answer.
 */
function firstText(...values: (string | undefined)[]): string | undefined {
  for (const v of values) {
    const t = v?.replace(BREAKS, ' ').trim();
    if (t !== undefined && t.length > 0) return t;
  }
  return undefined;
}

/** The item's display name: `title` (feeds), `productDisplayName` (Kaggle), else the file name without extension. */
export function itemTitle(item: Pick<SimilarItem, 'path' | 'id' | 'metadata'>): string {
  const name = firstText(item.metadata.title, item.metadata.productDisplayName);
  if (name !== undefined) return name;
  const file = basename(item.path, extname(item.path));
  return file.length > 0 ? file : item.id;
}

/**
 * The last part of a "A > B > C" product type ("C"), the category a feed item is shown with
 * when it has no `articleType`.
 */
function lastCategory(productType: string | undefined): string | undefined {
  const parts = productType?.split('>') ?? [];
  return firstText(parts[parts.length - 1]);
}

/** "Acme · Shirts · Navy Blue": brand, category and colour, the parts that are missing left out. */
export function itemSubtitle(item: Pick<SimilarItem, 'metadata'>): string {
  const m = item.metadata;
  return [
    firstText(m.brand),
    firstText(m.articleType) ?? lastCategory(m.productType),
    firstText(m.baseColour) ?? firstText(m.color),
  ]
    .filter((s): s is string => s !== undefined)
    .join(' · ');
}

/**
 * The price as shown: "49.90 EUR", or "39.90 EUR (was 49.90 EUR)" with a sale price; '' when
 * the catalog has none.
 */
export function itemPrice(item: Pick<SimilarItem, 'metadata'>): string {
  const price = firstText(item.metadata.price);
  const sale = firstText(item.metadata.salePrice);
  if (sale !== undefined && price !== undefined && sale !== price) return `${sale} (was ${price})`;
  return sale ?? price ?? '';
}

/** Longest product link shown (longer ones are dropped, not cut). */
const MAX_LINK_LENGTH = 2000;

/**
 * The item's product page when it is an absolute http(s) URL without credentials, normalised
 * (`new URL().href`); undefined otherwise, so a `javascript:` or `data:` link is never shown.
 */
export function itemLink(item: Pick<SimilarItem, 'metadata'>): string | undefined {
  return safeLink(item.metadata.link);
}

/** `text` as an http(s) link (normalised), or undefined (other schemes, credentials, too long, unparsable). */
export function safeLink(text: string | undefined): string | undefined {
  const t = text?.trim();
  if (t === undefined || t.length === 0 || t.length > MAX_LINK_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.hostname === '') return undefined;
  return url.href.length > MAX_LINK_LENGTH ? undefined : url.href;
}

/** "1. Turtle Check Men Navy Blue Shirt — Shirts · Navy Blue — 49.90 EUR — 87%" (missing parts left out). */
export function formatResultLine(item: SimilarItem): string {
  return [`${item.rank}. ${itemTitle(item)}`, itemSubtitle(item), itemPrice(item), formatSimilarity(item.similarity)]
    .filter((s) => s.length > 0)
    .join(' — ');
}
