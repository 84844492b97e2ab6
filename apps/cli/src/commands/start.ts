/**
 * `lookalike start` (what `npm start` runs): everything configured, in one process.
 * Opens the embedder and the catalog (the demo catalog when none is configured, drawn and
 * indexed on first run), builds the one SimilarityService, serves the local page and API on
 * HOST:PORT, and starts the chat adapters whose tokens are configured. SIGTERM/SIGINT stop it
 * gracefully: no new requests, in-flight answers finish (bounded), adapters stop, exit 0.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateDemoCatalog } from '@lookalike/catalog';
import { asLookalikeError, formatSummary, LookalikeError, type SimilarityService } from '@lookalike/core';
import { createDiscordBot } from '@lookalike/discord';
import { openRuntime } from '@lookalike/runtime';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { createSlackBot } from '@lookalike/slack';
import type { CliContext, CommandSpec } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from './index.js';

const USAGE = 'start';
/** Images in the demo catalog drawn on first run. */
const DEMO_COUNT = 400;
/** Longest wait for in-flight answers and adapters at shutdown. */
const SHUTDOWN_GRACE_MS = 15_000;

/** A running chat adapter, stopped at shutdown. */
interface RunningAdapter {
  name: string;
  stop(): Promise<void>;
}

async function resolveCatalogDirs(
  ctx: CliContext,
): Promise<{ imagesDir: string; labelsPath: string | undefined; demo: boolean }> {
  const configured = ctx.config.catalog;
  if (configured.imagesDir !== undefined) {
    if (!existsSync(configured.imagesDir)) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `LOOKALIKE_CATALOG_DIR ${configured.imagesDir} does not exist`);
    }
    return { imagesDir: configured.imagesDir, labelsPath: configured.labelsPath, demo: false };
  }
  const demoDir = join(ctx.config.dataDir, 'demo-catalog');
  const marker = join(demoDir, '.complete');
  if (!existsSync(marker)) {
    ctx.stderr.write(`No catalog configured: drawing the demo catalog (${DEMO_COUNT} images) into ${demoDir}…\n`);
    const t0 = Date.now();
    await generateDemoCatalog(demoDir, { count: DEMO_COUNT });
    await writeFile(marker, `${new Date().toISOString()}\n`);
    ctx.stderr.write(`Demo catalog ready in ${((Date.now() - t0) / 1000).toFixed(1)} s.\n`);
  }
  return { imagesDir: join(demoDir, 'images'), labelsPath: join(demoDir, 'labels.csv'), demo: true };
}

/**
 * Runs the incremental index in the background (the page shows its progress meanwhile).
 * Interrupted by shutdown, it resumes from its checkpoint on the next start.
 */
function backgroundIndex(
  ctx: CliContext,
  service: SimilarityService,
  why: string,
  stopping: () => boolean,
): Promise<void> {
  ctx.stderr.write(`${why}\n`);
  const progress = progressReporter(ctx);
  return service
    .reindex((p) => progress.update(p))
    .then((summary) => {
      progress.stop();
      ctx.stderr.write(`${formatSummary(summary)}\n`);
    })
    .catch((err: unknown) => {
      progress.stop();
      if (stopping()) {
        ctx.stderr.write('Indexing interrupted by shutdown; it resumes on the next start.\n');
        return;
      }
      const e = asLookalikeError(err);
      ctx.logger.error({ code: e.code, err }, 'start-up index failed');
      ctx.stderr.write(`Indexing failed: ${e.code}: ${e.message}\n`);
    });
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(undefined), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'serve the local page, and the Discord/Slack bots when their tokens are set',
  usage: USAGE,
  async run(argv, ctx) {
    if (argv.length > 0) {
      ctx.stderr.write(
        `lookalike start: takes no arguments (configure it with environment variables; see .env.example)\n`,
      );
      return 2;
    }
    const { config, logger } = ctx;
    const log = logger.child({ component: 'start' });
    const signal = waitForSignal();

    const dirs = await resolveCatalogDirs(ctx);
    const embedder = await openEmbedder(ctx);
    const { catalog, service } = await openRuntime({ config, logger, embedder, catalog: dirs });

    const http: HttpServer = createHttpServer({
      service,
      logger,
      localPage: config.http.localPage,
      maxUploadBytes: config.embedder.maxBytes,
    });
    const adapters: RunningAdapter[] = [];
    let indexing: Promise<void> | undefined;
    let stopping = false;
    try {
      // --- Discord adapter (helper F): start it here when `config.discord` is set; push { name, stop } to adapters ---
      if (config.discord !== undefined) {
        const discord = createDiscordBot({
          service,
          token: config.discord.token,
          appId: config.discord.appId,
          watchChannels: config.discord.watchChannels,
          adminRoleIds: config.discord.adminRoleIds,
          apiBase: config.discord.apiBase,
          attachImages: config.discord.attachImages,
          logger,
        });
        adapters.push({ name: 'discord', stop: () => discord.stop() });
        await discord.start();
        ctx.stderr.write(`Discord: connected as ${discord.client.user?.tag ?? 'the bot'}\n`);
      }
      // --- end Discord adapter ---

      // --- Slack adapter (helper G): start it here when `config.slack` is set; mount its HTTP route with
      //     http.addRoute({ method: 'POST', path: '/slack/events', handler }) before listen; push { name, stop } ---
      if (config.slack !== undefined) {
        const slack = createSlackBot({
          service,
          botToken: config.slack.botToken,
          signingSecret: config.slack.signingSecret,
          appToken: config.slack.appToken,
          adminUserIds: config.slack.adminUserIds,
          apiUrl: config.slack.apiUrl,
          logger,
        });
        if (slack.route !== undefined) http.addRoute(slack.route);
        adapters.push({ name: 'slack', stop: () => slack.stop() });
        await slack.start();
        ctx.stderr.write(
          slack.mode === 'socket'
            ? 'Slack: connected (Socket Mode)\n'
            : 'Slack: receiving events at POST /slack/events\n',
        );
      }
      // --- end Slack adapter ---

      let address: { port: number; host: string };
      try {
        address = await http.listen(config.http.port, config.http.host);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new LookalikeError(
          'INTERNAL',
          code === 'EADDRINUSE'
            ? `${config.http.host}:${config.http.port} is already in use (set PORT or HOST)`
            : `cannot listen on ${config.http.host}:${config.http.port}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const shownHost = address.host.includes(':') ? `[${address.host}]` : address.host;
      if (config.http.localPage) ctx.stdout.write(`Local page: http://${shownHost}:${address.port}\n`);
      else ctx.stdout.write(`Listening on http://${shownHost}:${address.port} (local page off)\n`);
      ctx.stderr.write(`Weights: ${embedder.weights.description}\n`);
      if (adapters.length === 0 && config.discord === undefined && config.slack === undefined) {
        ctx.stderr.write(
          'No chat tokens configured: only the local page runs. See .env.example to add Discord or Slack.\n',
        );
      }

      // Incremental: a no-op when nothing changed, and it finishes an index interrupted last time.
      const info = catalog.info();
      const why =
        info.size === 0
          ? `${dirs.demo ? 'First run with the demo catalog' : `The catalog in ${info.dataDir} is empty`}: indexing ${dirs.imagesDir} now (the local page answers once this is done).`
          : info.modelMismatch
            ? 'The catalog was built with other weights: re-embedding every image now.'
            : `Catalog: ${info.size} items from ${info.imagesDir ?? dirs.imagesDir}; checking for changes in the background.`;
      indexing = backgroundIndex(ctx, service, why, () => stopping).finally(() => {
        indexing = undefined;
      });

      const got = await signal;
      stopping = true;
      log.info({ signal: got }, 'shutting down');
      ctx.stderr.write(`\n${got} received: finishing in-flight answers and shutting down…\n`);
    } finally {
      stopping = true;
      // A second signal while shutting down exits at once.
      const hard = () => process.exit(130);
      process.once('SIGINT', hard);
      process.once('SIGTERM', hard);
      // Whatever still holds the event loop after a bounded shutdown must not keep the process alive.
      const force = setTimeout(() => process.exit(process.exitCode ?? 0), SHUTDOWN_GRACE_MS * 3);
      force.unref();
      await bounded(http.close(), SHUTDOWN_GRACE_MS);
      for (const adapter of adapters) {
        try {
          await bounded(adapter.stop(), SHUTDOWN_GRACE_MS);
        } catch (err) {
          log.warn({ adapter: adapter.name, err }, 'adapter did not stop cleanly');
        }
      }
      if (indexing !== undefined) ctx.stderr.write('Waiting for the running index to reach a checkpoint…\n');
      await bounded(service.close(), SHUTDOWN_GRACE_MS);
      log.info({}, 'stopped');
      setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
    }
    return 0;
  },
};
