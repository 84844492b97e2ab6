/**
 * `lookalike index DIR [--labels CSV] [--index flat|hnsw] [--batch N] [--allow-removals]`
 * Incrementally (re)indexes a folder of images into the catalog in the data dir (with
 * DATABASE_URL: into the PostgreSQL catalog, see index-cluster.ts), with a progress bar on
 * stderr and a summary on stdout. A run that would remove more than half of the
 * catalog (an empty, missing or unmounted folder) changes nothing and exits 1 unless
 * `--allow-removals` is given.
 */
import { type CatalogReindexSummary, openCatalog } from '@lookalike/catalog';
import { LookalikeError } from '@lookalike/core';
import { defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from '../progress.js';
import { runClusterIndex } from './index-cluster.js';

export { formatSeconds, progressReporter } from '../progress.js';

const USAGE = 'index [DIR] [--labels CSV] [--index flat|hnsw] [--batch N] [--allow-removals]';

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
    'index a folder of images (incremental: only new/changed images are embedded; with DATABASE_URL into PostgreSQL, embedded by `lookalike worker`s when REDIS_URL is set too)',
  usage: USAGE,
  options: {
    labels: { type: 'string' },
    index: { type: 'string' },
    batch: { type: 'string' },
    'allow-removals': { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length > 1) return usageError(ctx, USAGE, 'give one folder');
    const dir = positionals[0] ?? ctx.config.catalog.imagesDir;
    const kind = values.index ?? ctx.config.index.kind;
    if (kind !== 'flat' && kind !== 'hnsw') return usageError(ctx, USAGE, `unknown index kind "${kind}"`);
    const batchSize = values.batch === undefined ? ctx.config.embedder.batchSize : Number(values.batch);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      return usageError(ctx, USAGE, '--batch must be a positive integer');
    const labelsPath = values.labels ?? (positionals[0] === undefined ? ctx.config.catalog.labelsPath : undefined);
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
