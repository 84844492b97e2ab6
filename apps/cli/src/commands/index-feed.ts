/**
 * `lookalike index --feed FILE|URL [--format F] [--map field=column]... [--include-out-of-stock]`:
 * the reindex of a feed catalog in the data dir (products downloaded conditionally through the
 * configured fetcher and host queue), with the progress bar, the summary and a table of the
 * failures by code with the first few product ids of each.
 */
import { type CatalogReindexSummary, type FeedOptions, feedSourceForLog, openCatalog } from '@lookalike/catalog';
import { LookalikeError, terminalSafe } from '@lookalike/core';
import type { IndexKind } from '@lookalike/index';
import { openFeedDownloads } from '@lookalike/runtime';
import { type CliContext, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from '../progress.js';

export const FEED_FORMATS = ['csv', 'tsv', 'json', 'jsonl', 'xml'] as const;

export interface FeedIndexRequest {
  usage: string;
  feed: FeedOptions;
  kind: IndexKind;
  batchSize: number;
  allowRemovals: boolean;
  /** What follows the mass-removal sentence. */
  massRemovalHint: string;
}

/**
 * `--map field=column` values as a column map, or the mistake.
 * (Field names are checked by the catalog: CONFIG_INVALID names the known ones.)
 */
export function parseMapOptions(values: readonly string[]): Record<string, string> | string {
  const map: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const field = v.slice(0, eq).trim();
    const column = v.slice(eq + 1).trim();
    if (eq < 1 || field === '' || column === '') return `--map wants field=column, got "${v}"`;
    map[field] = column;
  }
  return map;
}

/** The summary of a feed run, as `lookalike index --feed` prints it. */
export function formatFeedSummary(s: CatalogReindexSummary): string {
  return [
    `added ${s.added}, updated ${s.updated}, removed ${s.removed}, unchanged ${s.unchanged}, failed ${s.failed}` +
      (s.relabelled > 0 ? `, relabelled ${s.relabelled}` : ''),
    `catalog size ${s.size}; downloaded ${s.downloads} image(s), ${s.notModified} not modified; ` +
      `embedded ${s.embedded} image(s) in ${(s.durationMs / 1000).toFixed(1)} s`,
  ].join('\n');
}

/** The failures by code as a table: code, count, the first few ids (or feed lines). */
export function formatFailureTable(s: Pick<CatalogReindexSummary, 'failuresByCode'>): string {
  const rows = Object.entries(s.failuresByCode);
  if (rows.length === 0) return '';
  const header = ['code', 'count', 'first'];
  const cells = rows.map(([code, g]) => [
    code,
    String(g.count),
    g.first.map(terminalSafe).join(', ') + (g.count > g.first.length ? ', …' : ''),
  ]);
  const width = [0, 1].map((i) => Math.max(header[i]!.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `  ${c[0]!.padEnd(width[0]!)}  ${c[1]!.padStart(width[1]!)}  ${c[2]}`.trimEnd();
  return ['Failures by code:', line(header), ...cells.map(line)].join('\n');
}

/** Runs the feed reindex; resolves to the exit code. */
export async function runFeedIndex(ctx: CliContext, r: FeedIndexRequest): Promise<number> {
  const shown = feedSourceForLog(r.feed.source);
  const embedder = await openEmbedder(ctx, { batchSize: r.batchSize });
  const progress = progressReporter(ctx);
  try {
    const downloads = await openFeedDownloads(ctx.config, ctx.logger);
    try {
      let catalog: Awaited<ReturnType<typeof openCatalog>>;
      try {
        catalog = await openCatalog({
          dataDir: ctx.config.dataDir,
          feed: r.feed,
          fetcher: downloads.fetcher,
          hostQueue: downloads.hostQueue,
          embedder,
          index: { kind: r.kind, efSearch: ctx.config.index.efSearch },
          logger: ctx.logger,
          batchSize: r.batchSize,
          allowModelMismatch: true,
        });
      } catch (err) {
        if (err instanceof LookalikeError && err.code === 'CONFIG_INVALID')
          return usageError(ctx, r.usage, err.message);
        throw err;
      }
      try {
        const info = catalog.info();
        if (info.modelMismatch) {
          ctx.stderr.write(
            `The catalog in ${info.dataDir} was built with other weights (${info.storedWeights?.source}, md5 ${info.storedWeights?.md5}); re-embedding every product.\n`,
          );
        }
        let summary: CatalogReindexSummary;
        try {
          summary = await catalog.reindex((p) => progress.update(p), { allowRemovals: r.allowRemovals });
        } catch (err) {
          if (!(err instanceof LookalikeError) || err.code !== 'REINDEX_MASS_REMOVAL') throw err;
          progress.stop();
          ctx.logger.debug({ code: err.code, ...err.details }, 'reindex refused');
          ctx.stderr.write(`lookalike index: ${err.userMessage}\n${r.massRemovalHint}\n`);
          return 1;
        }
        progress.stop();
        const table = formatFailureTable(summary);
        ctx.stdout.write(
          `Indexed feed ${shown} into ${info.dataDir} [${r.kind}]\n` +
            `weights: ${embedder.weights.description}\n${formatFeedSummary(summary)}\n${table === '' ? '' : `${table}\n`}`,
        );
        return 0;
      } finally {
        progress.stop();
        await catalog.close();
      }
    } finally {
      await downloads.close();
    }
  } finally {
    progress.stop();
    await embedder.dispose();
  }
}
