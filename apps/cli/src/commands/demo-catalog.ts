/**
 * `lookalike demo-catalog OUT [--count N] [--seed S]`
 * Draws a labelled synthetic garment catalog: OUT/images/*.jpg|png and OUT/labels.csv.
 */
import { generateDemoCatalog } from '@lookalike/catalog';
import { defineCommand, usageError } from '../context.js';

const USAGE = 'demo-catalog OUT [--count N] [--seed S]';

export const demoCatalogCommand = defineCommand({
  name: 'demo-catalog',
  summary: 'draw a labelled synthetic garment catalog (default 400 images)',
  usage: USAGE,
  options: { count: { type: 'string' }, seed: { type: 'string' } },
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 1) return usageError(ctx, USAGE, 'give one output folder');
    const count = values.count === undefined ? 400 : Number(values.count);
    const seed = values.seed === undefined ? 42 : Number(values.seed);
    if (!Number.isInteger(count) || count < 1 || count > 100_000)
      return usageError(ctx, USAGE, '--count must be 1–100000');
    if (!Number.isInteger(seed)) return usageError(ctx, USAGE, '--seed must be an integer');
    const started = Date.now();
    const demo = await generateDemoCatalog(positionals[0]!, { count, seed });
    ctx.stdout.write(
      `Drew ${demo.items.length} images into ${demo.imagesDir} and labels into ${demo.labelsPath} in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
        `Next: lookalike index ${demo.imagesDir} --labels ${demo.labelsPath}\n`,
    );
    return 0;
  },
});
