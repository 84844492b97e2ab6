/**
 * `lookalike eval --catalog DIR --labels CSV [-k 5] [--eval-data DIR] [--json]`
 * Leave-one-out precision@k by articleType. Indexes DIR (incrementally) into a data dir of its
 * own (default `<data dir>/eval/<hash of DIR>`), so the main catalog is never touched.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { evaluateCatalog, openCatalog } from '@lookalike/catalog';
import { defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { formatSummary, progressReporter } from './index.js';

const USAGE = 'eval --catalog DIR --labels CSV [-k 5] [--eval-data DIR] [--json]';

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'leave-one-out precision@k by articleType on a labelled folder',
  usage: USAGE,
  options: {
    catalog: { type: 'string' },
    labels: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'eval-data': { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, ctx) {
    if (values.catalog === undefined) return usageError(ctx, USAGE, '--catalog DIR is required');
    if (values.labels === undefined) return usageError(ctx, USAGE, '--labels CSV is required');
    const k = values.k === undefined ? 5 : Number(values.k);
    if (!Number.isInteger(k) || k < 1 || k > 100) return usageError(ctx, USAGE, '-k must be an integer from 1 to 100');
    const imagesDir = resolve(values.catalog);
    const dataDir =
      values['eval-data'] ??
      join(ctx.config.dataDir, 'eval', createHash('sha256').update(imagesDir).digest('hex').slice(0, 12));

    const embedder = await openEmbedder(ctx);
    try {
      const catalog = await openCatalog({
        dataDir,
        imagesDir,
        labelsPath: values.labels,
        embedder,
        index: { kind: 'flat' },
        logger: ctx.logger,
        batchSize: ctx.config.embedder.batchSize,
        allowModelMismatch: true,
      });
      try {
        const progress = progressReporter(ctx);
        const summary = await catalog.reindex((p) => progress.update(p)).finally(() => progress.stop());
        ctx.stderr.write(`${formatSummary(summary)}\n`);
        const r = evaluateCatalog(catalog, { k });
        if (values.json === true) {
          ctx.stdout.write(`${JSON.stringify({ ...r, catalog: imagesDir, size: catalog.size() }, null, 2)}\n`);
          return 0;
        }
        const w = r.weights;
        const lines = [
          `Leave-one-out precision@${r.k} by ${r.field} on ${imagesDir} (${catalog.size()} items)`,
          `weights: ${w.description} [source ${w.source}, md5 ${w.md5}]`,
        ];
        if (w.untrained) lines.push('WARNING: untrained (random) weights: this figure is meaningless.');
        lines.push(
          `queries: ${r.queries} (items whose ${r.field} has more than ${r.k} members; ${r.unlabelled} unlabelled)`,
          `P@${r.k} = ${r.precision.toFixed(4)}`,
          '',
          `per ${r.field}:`,
        );
        const width = Math.max(...r.perClass.map((c) => c.value.length), 8);
        for (const c of r.perClass) {
          lines.push(
            `  ${c.value.padEnd(width)}  members ${String(c.members).padStart(5)}  P@${r.k} ${c.precision.toFixed(4)}`,
          );
        }
        ctx.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      } finally {
        await catalog.close();
      }
    } finally {
      await embedder.dispose();
    }
  },
});
