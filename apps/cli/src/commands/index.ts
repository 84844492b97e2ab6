/**
 * `lookalike index DIR [--labels CSV] [--index flat|hnsw|flat-sq8] [--batch N] [--allow-removals]`
 * `lookalike index --feed FILE|URL [--format F] [--map field=column]... [--include-out-of-stock]`
 * Incrementally (re)indexes a folder of images into the catalog in the data dir (with
 * DATABASE_URL: into the PostgreSQL catalog, see index-cluster.ts), or a product feed (see
 * index-feed.ts; also LOOKALIKE_FEED when no folder is given), with a progress bar on
 * stderr and a summary on stdout. A run that would remove more than half of the
 * catalog (an empty, missing or unmounted folder) changes nothing and exits 1 unless
 * `--allow-removals` is given.
 */
import { type CatalogReindexSummary, openCatalog } from '@lookalike/catalog';
import { INDEX_KINDS, LookalikeError } from '@lookalike/core';
import { defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from '../progress.js';
import { runClusterIndex } from './index-cluster.js';
import { FEED_FORMATS, parseMapOptions, runFeedIndex } from './index-feed.js';

export { formatSeconds, progressReporter } from '../progress.js';

const USAGE =
  'index [DIR] [--labels CSV] [--index flat|hnsw|flat-sq8] [--batch N] [--allow-removals]\n' +
  '       lookalike index --feed FILE|URL [--format csv|tsv|json|jsonl|xml] [--map field=column]... [--include-out-of-stock] [--index flat|hnsw|flat-sq8] [--batch N] [--allow-removals]';

function isIndexKind(kind: string): kind is (typeof INDEX_KINDS)[number] {
  return (INDEX_KINDS as readonly string[]).includes(kind);
}

/** What the CLI adds to the catalog's mass-removal sentence. */
export const ALLOW_REMOVALS_HINT = 'Nothing was removed. If the removal is intended, re-run with --allow-removals.';

export function formatSummary(s: CatalogReindexSummary): string {
  const lines = [
    `added ${s.added}, updated ${s.updated}, removed ${s.removed}, unchanged ${s.unchanged}, failed ${s.failed}` +
      (s.relabelled > 0 ? `, relabelled ${s.relabelled}` : ''),
    `catalog size ${s.size}; embedded ${s.embedded} image(s) in ${(s.durationMs / 1000).toFixed(1)} s`,
  ];
  if (s.failed > 0) {
    const shown = s.failedFiles.slice(0, 10);
    lines.push(
      `failed files (skipped): ${shown.join(', ')}${s.failed > shown.length ? `, … (${s.failed} in all)` : ''}`,
    );
  }
  if (s.collisions.length > 0) {
    lines.push(
      `note: ${s.collisions.length} file name(s) occur in several folders (e.g. ${s.collisions.slice(0, 3).join(', ')}); those items use their relative path as id`,
    );
  }
  return lines.join('\n');
}

export const indexCommand = defineCommand({
  name: 'index',
  summary:
    'index a folder of images or a product feed (incremental: only new/changed images are downloaded and embedded; a folder with DATABASE_URL into PostgreSQL, embedded by `lookalike worker`s when REDIS_URL is set too)',
  usage: USAGE,
  options: {
    labels: { type: 'string' },
    index: { type: 'string' },
    batch: { type: 'string' },
    'allow-removals': { type: 'boolean' },
    feed: { type: 'string' },
    format: { type: 'string' },
    map: { type: 'string', multiple: true },
    'include-out-of-stock': { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length > 1) return usageError(ctx, USAGE, 'give one folder');
    const dir = positionals[0] ?? ctx.config.catalog.imagesDir;
    const kind = values.index ?? ctx.config.index.kind;
    if (!isIndexKind(kind)) return usageError(ctx, USAGE, `unknown index kind "${kind}" (${INDEX_KINDS.join(', ')})`);
    if (kind === 'flat-sq8' && ctx.config.scale.databaseUrl !== undefined) {
      return usageError(ctx, USAGE, '--index flat-sq8 is for the embedded catalog: unset DATABASE_URL');
    }
    const batchSize = values.batch === undefined ? ctx.config.embedder.batchSize : Number(values.batch);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      return usageError(ctx, USAGE, '--batch must be a positive integer');
    const labelsPath = values.labels ?? (positionals[0] === undefined ? ctx.config.catalog.labelsPath : undefined);
    const feedSource = values.feed ?? (positionals[0] === undefined ? ctx.config.feed.source : undefined);
    if (feedSource !== undefined) {
      if (positionals.length > 0) return usageError(ctx, USAGE, 'give a folder or --feed, not both');
      if (values.labels !== undefined) return usageError(ctx, USAGE, '--labels is for folders: a feed carries its own');
      if (ctx.config.scale.databaseUrl !== undefined) {
        return usageError(ctx, USAGE, 'feed catalogs live in the embedded catalog for now: unset DATABASE_URL');
      }
      const format = values.format ?? ctx.config.feed.format;
      if (format !== undefined && !(FEED_FORMATS as readonly string[]).includes(format)) {
        return usageError(ctx, USAGE, `unknown feed format "${format}" (${FEED_FORMATS.join(', ')})`);
      }
      const map = values.map === undefined ? ctx.config.feed.map : parseMapOptions(values.map);
      if (typeof map === 'string') return usageError(ctx, USAGE, map);
      return runFeedIndex(ctx, {
        usage: USAGE,
        feed: {
          source: feedSource,
          format: format as (typeof FEED_FORMATS)[number] | undefined,
          ...(Object.keys(map).length === 0 ? {} : { map }),
          includeOutOfStock: values['include-out-of-stock'] === true || ctx.config.feed.includeOutOfStock,
        },
        kind,
        batchSize,
        allowRemovals: values['allow-removals'] === true,
        massRemovalHint: ALLOW_REMOVALS_HINT,
      });
    }
    for (const flag of ['format', 'map', 'include-out-of-stock'] as const) {
      if (values[flag] !== undefined) return usageError(ctx, USAGE, `--${flag} goes with --feed`);
    }
    if (ctx.config.scale.databaseUrl !== undefined) {
      return runClusterIndex(ctx, {
        usage: USAGE,
        dir,
        labelsPath,
        batchSize,
        allowRemovals: values['allow-removals'] === true,
        massRemovalHint: ALLOW_REMOVALS_HINT,
      });
    }

    const embedder = await openEmbedder(ctx, { batchSize });
    const progress = progressReporter(ctx);
    try {
      const catalog = await openCatalog({
        dataDir: ctx.config.dataDir,
        imagesDir: dir,
        labelsPath,
        embedder,
        index: { kind, efSearch: ctx.config.index.efSearch },
        logger: ctx.logger,
        batchSize,
        allowModelMismatch: true,
      });
      try {
        const info = catalog.info();
        if (info.imagesDir === undefined) {
          progress.stop();
          return usageError(ctx, USAGE, 'no folder given (and LOOKALIKE_CATALOG_DIR is not set)');
        }
        if (info.modelMismatch) {
          ctx.stderr.write(
            `The catalog in ${info.dataDir} was built with other weights (${info.storedWeights?.source}, md5 ${info.storedWeights?.md5}); re-embedding every image.\n`,
          );
        }
        let summary: CatalogReindexSummary;
        try {
          summary = await catalog.reindex((p) => progress.update(p), {
            allowRemovals: values['allow-removals'] === true,
          });
        } catch (err) {
          if (!(err instanceof LookalikeError) || err.code !== 'REINDEX_MASS_REMOVAL') throw err;
          progress.stop();
          ctx.logger.debug({ code: err.code, ...err.details }, 'reindex refused');
          ctx.stderr.write(`lookalike index: ${err.userMessage}\n${ALLOW_REMOVALS_HINT}\n`);
          return 1;
        }
        progress.stop();
        ctx.stdout.write(
          `Indexed ${info.imagesDir}${info.labelsPath === undefined ? '' : ` (labels ${info.labelsPath})`} into ${info.dataDir} [${kind}]\n` +
            `weights: ${embedder.weights.description}\n${formatSummary(summary)}\n`,
        );
        return 0;
      } finally {
        progress.stop();
        await catalog.close();
      }
    } finally {
      await embedder.dispose();
    }
  },
});
