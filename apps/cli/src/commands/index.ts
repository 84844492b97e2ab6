/**
 * `lookalike index DIR [--labels CSV] [--index flat|hnsw] [--batch N] [--allow-removals]`
 * Incrementally (re)indexes a folder of images into the catalog in the data dir, with a
 * progress bar on stderr and a summary on stdout. A run that would remove more than half of the
 * catalog (an empty, missing or unmounted folder) changes nothing and exits 1 unless
 * `--allow-removals` is given.
 */
import { type CatalogReindexSummary, openCatalog } from '@lookalike/catalog';
import { LookalikeError, type ReindexProgress } from '@lookalike/core';
import cliProgress from 'cli-progress';
import { type CliContext, defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';

const USAGE = 'index [DIR] [--labels CSV] [--index flat|hnsw] [--batch N] [--allow-removals]';

/** What the CLI adds to the catalog's mass-removal sentence. */
export const ALLOW_REMOVALS_HINT = 'Nothing was removed. If the removal is intended, re-run with --allow-removals.';

const PHASE_LABEL: Record<ReindexProgress['phase'], string> = {
  scanning: 'Scanning ',
  hashing: 'Hashing  ',
  removing: 'Removing ',
  embedding: 'Embedding',
  done: 'Done     ',
};

/** A cli-progress bar on a TTY; one line per phase otherwise. */
export function progressReporter(ctx: CliContext): { update(p: ReindexProgress): void; stop(): void } {
  const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
  let phase: string | undefined;
  if (!tty) {
    // Logs and pipes: one line per phase, and every 10 % of the embedding.
    let nextTenth = 1;
    return {
      update(p) {
        if (p.phase !== phase) {
          phase = p.phase;
          nextTenth = 1;
          if (p.phase !== 'done' && p.total > 0) ctx.stderr.write(`${PHASE_LABEL[p.phase].trim()}: ${p.total}\n`);
          return;
        }
        if (p.phase === 'embedding' && p.total > 0 && p.done >= (nextTenth * p.total) / 10) {
          while (p.done >= (nextTenth * p.total) / 10) nextTenth++;
          const eta = p.etaSeconds === null ? '?' : formatSeconds(p.etaSeconds);
          ctx.stderr.write(`  ${p.done}/${p.total} (${p.rate.toFixed(1)}/s, ETA ${eta})\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: ctx.stderr as NodeJS.WriteStream,
      format: '{phase} [{bar}] {value}/{total} | {rate}/s | ETA {eta_s}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = {
        phase: PHASE_LABEL[p.phase],
        rate: p.rate.toFixed(1),
        eta_s: p.etaSeconds === null ? '?' : formatSeconds(p.etaSeconds),
      };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        if (p.phase !== phase) bar.setTotal(p.total);
        bar.update(p.done, payload);
      }
      phase = p.phase;
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

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
  summary: 'index a folder of images (incremental: only new/changed images are embedded)',
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
