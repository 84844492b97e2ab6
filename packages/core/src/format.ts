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

/** The item's display name: productDisplayName, else the file name without extension. */
export function itemTitle(item: Pick<SimilarItem, 'path' | 'id' | 'metadata'>): string {
  const name = item.metadata.productDisplayName?.trim();
  if (name !== undefined && name.length > 0) return name;
  const file = basename(item.path, extname(item.path));
  return file.length > 0 ? file : item.id;
}

/** "Shirts · Navy Blue" (parts that are missing are left out). */
export function itemSubtitle(item: Pick<SimilarItem, 'metadata'>): string {
  return [item.metadata.articleType, item.metadata.baseColour]
    .map((s) => s?.trim())
    .filter((s): s is string => s !== undefined && s.length > 0)
    .join(' · ');
}

/** "1. Turtle Check Men Navy Blue Shirt — Shirts · Navy Blue — 87%". */
export function formatResultLine(item: SimilarItem): string {
  const sub = itemSubtitle(item);
  return [`${item.rank}. ${itemTitle(item)}`, sub, formatSimilarity(item.similarity)]
    .filter((s) => s.length > 0)
    .join(' — ');
}
