/**
 * `lookalike worker`: an embedding worker. It consumes the jobs the coordinator (`lookalike
 * index`, or /reindex, with REDIS_URL) queues on BullMQ, reads each image under
 * LOOKALIKE_CATALOG_DIR (this machine's mount of the shared folder), embeds it with the same
 * model and writes the vector into PostgreSQL. Run as many as there are machines (or cores to
 * spare); a killed worker's jobs are taken by another. runProcess owns SIGTERM/SIGINT: stop
 * taking jobs, let the active ones finish, close, exit 0.
 */
import { closeComponent, missingWorkerVariables, runProcess, startWorkerRuntime } from '@lookalike/runtime';
import { defineCommand } from '../context.js';
import { openEmbedder } from '../embedder.js';

const USAGE = 'worker';

/** Exit status of an invalid configuration (EX_CONFIG), as for the other commands. */
const EXIT_CONFIG = 78;

export const workerCommand = defineCommand({
  name: 'worker',
  summary:
    'embed the images a coordinator queues (`lookalike index` or /reindex with REDIS_URL) into PostgreSQL; needs DATABASE_URL, REDIS_URL and LOOKALIKE_CATALOG_DIR',
  usage: USAGE,
  options: {},
  allowPositionals: false,
  async run(_args, ctx) {
    const missing = missingWorkerVariables(ctx.config);
    if (missing.length > 0) {
      ctx.stderr.write(
        `lookalike worker: CONFIG_INVALID: a worker needs DATABASE_URL (the catalog), REDIS_URL (the job queue) and ` +
          `LOOKALIKE_CATALOG_DIR (this machine's mount of the images folder); not set: ${missing.join(', ')}\n` +
          `Usage: lookalike ${USAGE}\n`,
      );
      return EXIT_CONFIG;
    }
    let processed = (): number => 0;
    return runProcess({
      logger: ctx.logger,
      async start(proc) {
        const embedder = await openEmbedder(ctx);
        proc.add(closeComponent('embedder', () => embedder.dispose()));
        const w = await startWorkerRuntime({ config: ctx.config, logger: ctx.logger, embedder });
        processed = () => w.worker.processed();
        // Shutdown's drain step: no new jobs, the active ones finish and are written, then it closes.
        proc.add({ name: 'worker', drain: () => w.close(), close: () => w.close() });
        ctx.stderr.write(`worker: ready (concurrency ${w.concurrency}, model ${w.model})\n`);
      },
      onShutdown(reason) {
        ctx.stderr.write(
          `\n${reason} received: finishing the active jobs and shutting down (${processed()} job(s) done so far)…\n`,
        );
      },
    });
  },
});
