/**
 * Builds the embedder from the CLI configuration, so every command (embed, index, similar,
 * eval, start) opens it the same way. Prints the untrained-weights warning to stderr once
 * per process.
 */
import {
  createEmbedder,
  type EmbedderOptions,
  type ImageEmbedder,
  UNTRAINED_WEIGHTS_WARNING,
} from '@lookalike/embedder';
import { embedderOptionsFrom } from '@lookalike/runtime';
import type { CliContext } from './context.js';

/** Per-command overrides of the configured embedder settings. */
export type EmbedderOverrides = Partial<Omit<EmbedderOptions, 'modelsDir'>>;

let warned = false;

/** Opens the embedder configured by `ctx.config` (overrides win). */
export async function openEmbedder(ctx: CliContext, overrides: EmbedderOverrides = {}): Promise<ImageEmbedder> {
  const embedder = await createEmbedder({
    ...embedderOptionsFrom(ctx.config, ctx.logger),
    // The CLI prints its own one-line warning below instead of a JSON log line.
    warnUntrained: false,
    ...overrides,
  });
  if (embedder.weights.untrained && !warned) {
    warned = true;
    ctx.stderr.write(`${UNTRAINED_WEIGHTS_WARNING}\n`);
  }
  return embedder;
}
