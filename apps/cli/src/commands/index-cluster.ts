/**
 * `lookalike index` with DATABASE_URL: the reindex of the PostgreSQL catalog. With REDIS_URL it
 * is the coordinator (it scans, plans against PostgreSQL, queues one job per image for the
 * `lookalike worker`s and follows them); without, this process embeds. Same progress reporter
 * and summary as the SQLite catalog's; no worker running is said within the timeout (exit 1).
 */
import { LookalikeError } from '@lookalike/core';
import { type ClusterReindexSummary, openClusterReindexing } from '@lookalike/runtime';
import { type CliContext, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from '../progress.js';

export interface ClusterIndexRequest {
  usage: string;
  dir: string | undefined;
  labelsPath: string | undefined;
  batchSize: number;
  allowRemovals: boolean;
  /** What follows the mass-removal sentence. */
  massRemovalHint: string;
}

/** The summary of a PostgreSQL reindex, as `lookalike index` prints it. */
export function formatClusterSummary(s: ClusterReindexSummary): string {
  const lines = [
    `added ${s.added}, updated ${s.updated}, removed ${s.removed}, unchanged ${s.unchanged}, failed ${s.failed}` +
      (s.relabelled > 0 ? `, relabelled ${s.relabelled}` : ''),
    `catalog version ${s.version}; embedded ${s.embedded} image(s) in ${(s.durationMs / 1000).toFixed(1)} s` +
      ` (run ${s.runId}${s.resumed ? ', resumed' : ''})`,
  ];
  if (s.failed > 0) {
    const shown = s.failedFiles.slice(0, 10);
    lines.push(
      `failed files (skipped): ${shown.join(', ')}${s.failed > shown.length ? `, … (${s.failed} in all)` : ''}`,
    );
  }
  return lines.join('\n');
}

/** Runs the reindex of the PostgreSQL catalog; resolves to the exit code. */
export async function runClusterIndex(ctx: CliContext, r: ClusterIndexRequest): Promise<number> {
  if (r.dir === undefined) return usageError(ctx, r.usage, 'no folder given (and LOOKALIKE_CATALOG_DIR is not set)');
  const config = { ...ctx.config, embedder: { ...ctx.config.embedder, batchSize: r.batchSize } };
  const embedder = await openEmbedder(ctx, { batchSize: r.batchSize });
  const progress = progressReporter(ctx);
  try {
    const indexing = await openClusterReindexing({
      config,
      logger: ctx.logger,
      embedder,
      catalog: { imagesDir: r.dir, labelsPath: r.labelsPath },
    });
    try {
      if (indexing.coordinated) {
        ctx.stderr.write(
          `Coordinating the reindex of PostgreSQL catalog ${indexing.name}: \`lookalike worker\` processes embed the images.\n`,
        );
      }
      let summary: ClusterReindexSummary;
      try {
        summary = await indexing.reindexer.run((p) => progress.update(p), { allowRemovals: r.allowRemovals });
      } catch (err) {
        progress.stop();
        const refused = refusal(err, r, config.scale.noWorkerTimeoutMs);
        if (refused === undefined) throw err;
        ctx.logger.debug({ code: (err as LookalikeError).code, ...(err as LookalikeError).details }, 'reindex refused');
        ctx.stderr.write(`lookalike index: ${refused}\n`);
        return 1;
      }
      progress.stop();
      ctx.stdout.write(
        `Indexed ${r.dir}${r.labelsPath === undefined ? '' : ` (labels ${r.labelsPath})`} into PostgreSQL catalog ${indexing.name}` +
          `${indexing.coordinated ? ' (embedded by the workers)' : ''}\n` +
          `weights: ${embedder.weights.description}\n${formatClusterSummary(summary)}\n`,
      );
      return 0;
    } finally {
      await indexing.close();
    }
  } finally {
    progress.stop();
    await embedder.dispose();
  }
}

/** The sentence of a run that was refused or could not go on, or undefined for other errors. */
function refusal(err: unknown, r: ClusterIndexRequest, noWorkerTimeoutMs: number): string | undefined {
  if (!(err instanceof LookalikeError)) return undefined;
  switch (err.code) {
    case 'REINDEX_MASS_REMOVAL':
      return `${err.userMessage}\n${r.massRemovalHint}`;
    case 'REINDEX_NO_WORKERS':
      return (
        `no embedding worker is running (none seen for ${noWorkerTimeoutMs < 1000 ? `${noWorkerTimeoutMs} ms` : `${Math.round(noWorkerTimeoutMs / 1000)} s`}), so nothing is being embedded. ` +
        'The jobs stay queued: start `lookalike worker` (with DATABASE_URL, REDIS_URL and LOOKALIKE_CATALOG_DIR set), ' +
        'then run `lookalike index` again to follow the run.'
      );
    case 'REINDEX_IN_PROGRESS':
      return 'another process is reindexing this catalog; its progress shows in /reindex. Try again when it is done.';
    default:
      return undefined;
  }
}
