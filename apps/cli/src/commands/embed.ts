/**
 * `lookalike embed IMAGE... [--runtime onnx|tfjs] [--precision fp32|int8] [--resize stretch|pad] [--no-exif]`
 * Prints one JSON array of 2048 numbers per image, one per line, in argument order.
 * A bad image prints `path: CODE: sentence` to stderr; the others still print; exit 1.
 */
import { asLookalikeError, isLookalikeError } from '@lookalike/core';
import { defineCommand, usageError } from '../context.js';
import { type EmbedderOverrides, openEmbedder } from '../embedder.js';

const USAGE = 'embed IMAGE... [--runtime onnx|tfjs] [--precision fp32|int8] [--resize stretch|pad] [--no-exif]';

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(text)) resolve();
    else stream.once('drain', resolve);
  });
}

export const embedCommand = defineCommand({
  name: 'embed',
  summary: 'print the 2048-d vector of each image (JSON, one per line)',
  usage: USAGE,
  options: {
    runtime: { type: 'string' },
    precision: { type: 'string' },
    resize: { type: 'string' },
    'no-exif': { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length === 0) return usageError(ctx, USAGE, 'no image given');
    const overrides: EmbedderOverrides = {};
    if (values.runtime !== undefined) {
      if (values.runtime !== 'onnx' && values.runtime !== 'tfjs')
        return usageError(ctx, USAGE, `unknown runtime "${values.runtime}"`);
      overrides.runtime = values.runtime;
    }
    if (values.precision !== undefined) {
      if (values.precision !== 'fp32' && values.precision !== 'int8')
        return usageError(ctx, USAGE, `unknown precision "${values.precision}"`);
      overrides.precision = values.precision;
    }
    if (values.resize !== undefined) {
      if (values.resize !== 'stretch' && values.resize !== 'pad')
        return usageError(ctx, USAGE, `unknown resize mode "${values.resize}"`);
      overrides.resize = values.resize;
    }
    if (values['no-exif'] === true) overrides.exif = false;

    const embedder = await openEmbedder(ctx, overrides);
    let failures = 0;
    try {
      // All images go in at once so the embedder can batch them; results print in order.
      const results = positionals.map((path) => embedder.embed([path]).then((v) => v[0] as Float32Array));
      for (const r of results) r.catch(() => {});
      for (let i = 0; i < positionals.length; i++) {
        try {
          const vector = await (results[i] as Promise<Float32Array>);
          await write(ctx.stdout, `${JSON.stringify(Array.from(vector))}\n`);
        } catch (err) {
          failures++;
          const e = asLookalikeError(err);
          const sentence = isLookalikeError(err) && e.isUserFacing ? e.userMessage : e.message;
          ctx.logger.debug({ err: e, path: positionals[i] }, 'embed failed');
          ctx.stderr.write(`${positionals[i]}: ${e.code}: ${sentence}\n`);
        }
      }
    } finally {
      await embedder.dispose();
    }
    return failures > 0 ? 1 : 0;
  },
});
