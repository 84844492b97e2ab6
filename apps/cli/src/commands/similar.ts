/**
 * `lookalike similar IMAGE [-k 6] [--where field=value]... [--json] [--collage out.jpg] [--include-duplicates]`
 * Searches the indexed catalog (in the data dir) for the images most like IMAGE.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { catalogExists, openCatalog } from '@lookalike/catalog';
import { LookalikeError, type SimilarItem, untrainedNotice, type WeightsInfo } from '@lookalike/core';
import { renderCollage } from '@lookalike/render';
import { type CliContext, defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';

const USAGE = 'similar IMAGE [-k 6] [--where field=value]... [--json] [--collage out.jpg] [--include-duplicates]';

/** Parses `--where field=value` options into exact-match filters. */
export function parseWhere(list: readonly string[]): Record<string, string> {
  const filters: Record<string, string> = {};
  for (const w of list) {
    const eq = w.indexOf('=');
    if (eq <= 0 || eq === w.length - 1) throw new Error(`--where expects field=value, got "${w}"`);
    filters[w.slice(0, eq).trim()] = w.slice(eq + 1).trim();
  }
  return filters;
}

function table(results: SimilarItem[]): string {
  const rows = results.map((r) => [
    String(r.rank),
    r.similarity.toFixed(4),
    r.distance.toFixed(4),
    r.id,
    r.metadata.articleType ?? '',
    r.metadata.baseColour ?? '',
    r.metadata.productDisplayName ?? '',
  ]);
  const head = ['#', 'similarity', 'distance', 'id', 'articleType', 'colour', 'name'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

export const similarCommand = defineCommand({
  name: 'similar',
  summary: 'find the catalog items most similar to an image',
  usage: USAGE,
  options: {
    k: { type: 'string', short: 'k' },
    where: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    collage: { type: 'string' },
    'include-duplicates': { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    let filters: Record<string, string>;
    try {
      filters = parseWhere(values.where ?? []);
    } catch (err) {
      return usageError(ctx, USAGE, (err as Error).message);
    }
    if (positionals.length !== 1) return usageError(ctx, USAGE, 'give exactly one image');
    const image = positionals[0]!;
    const k = values.k === undefined ? 6 : Number(values.k);
    if (!Number.isInteger(k) || k < 1 || k > 100) return usageError(ctx, USAGE, '-k must be an integer from 1 to 100');

    const dataDir = ctx.config.dataDir;
    if (!catalogExists(dataDir)) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `No catalog in ${dataDir}. Run \`lookalike index DIR\` first.`, {
        details: { dataDir },
      });
    }
    const embedder = await openEmbedder(ctx);
    try {
      const catalog = await openCatalog({
        dataDir,
        embedder,
        // The kind of the saved index (no rebuild just to answer a query).
        index: { efSearch: ctx.config.index.efSearch },
        logger: ctx.logger,
      });
      try {
        if (catalog.size() === 0) {
          throw new LookalikeError(
            'INDEX_EMPTY',
            `The catalog in ${dataDir} is empty. Run \`lookalike index DIR\` first.`,
          );
        }
        const [query] = await embedder.embed([image]);
        const results = catalog.search(query!, {
          k,
          ...(Object.keys(filters).length > 0 ? { filters } : {}),
          excludeDuplicates: values['include-duplicates'] !== true,
        });
        if (values.collage !== undefined) await writeCollage(values.collage, results, embedder.weights, ctx);
        if (values.json === true) {
          const out = {
            query: image,
            weights: { source: embedder.weights.source, md5: embedder.weights.md5 },
            results: results.map((r) => ({
              rank: r.rank,
              id: r.id,
              path: r.path,
              distance: r.distance,
              similarity: r.similarity,
              metadata: r.metadata,
            })),
          };
          ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          ctx.stdout.write(`Most similar to ${image} (weights: ${embedder.weights.description}):\n`);
          ctx.stdout.write(results.length === 0 ? 'no results\n' : `${table(results)}\n`);
          if (results.length < k) ctx.stdout.write(`(only ${results.length} item(s) matched)\n`);
        }
        return 0;
      } finally {
        await catalog.close();
      }
    } finally {
      await embedder.dispose();
    }
  },
});

async function writeCollage(out: string, results: SimilarItem[], weights: WeightsInfo, ctx: CliContext): Promise<void> {
  const notices = weights.untrained ? [untrainedNotice()] : [];
  const bytes = await renderCollage(results, { weights, notices, loadImage: (item) => readFile(item.path) });
  await writeFile(out, bytes);
  ctx.stderr.write(`collage written to ${out}\n`);
}
