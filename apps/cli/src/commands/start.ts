/**
 * `lookalike start` (what `npm start` runs): everything configured, in one process.
 * Opens the embedder and the catalog (the demo catalog when none is configured, drawn on first
 * run), builds the one SimilarityService, serves the local page, API, /healthz, /readyz and
 * /metrics on HOST:PORT at once, starts the incremental index in the background through the
 * service (items become searchable batch by batch) and then the chat adapters whose tokens are
 * configured. With DATABASE_URL it is a replica of the PostgreSQL catalog instead: it loads and
 * follows the catalog, and indexes only when asked (`lookalike index`, /reindex).
 * runProcess owns the shutdown: stop taking work, in-flight answers finish, bots log out,
 * service/catalog/embedder close, exit 0.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { catalogExists, feedSourceForLog, generateDemoCatalog, storedFeedSource } from '@lookalike/catalog';
import { asLookalikeError, formatSummary, LookalikeError, type SimilarityService } from '@lookalike/core';
import { createDiscordBot } from '@lookalike/discord';
import {
  chatComponent,
  httpComponent,
  listenOn,
  type ProcessControl,
  runProcess,
  startRuntime,
} from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';
import { createSlackBot } from '@lookalike/slack';
import type { CliContext, CommandSpec } from '../context.js';
import { openEmbedder } from '../embedder.js';
import { progressReporter } from './index.js';

const USAGE = 'start';
/** Images in the demo catalog drawn on first run. */
const DEMO_COUNT = 400;

async function resolveCatalogDirs(
  ctx: CliContext,
): Promise<{ imagesDir: string | undefined; labelsPath: string | undefined; demo: boolean }> {
  const configured = ctx.config.catalog;
  // LOOKALIKE_FEED: a feed catalog (the runtime opens it with its fetcher); no folder, no demo.
  if (ctx.config.feed.source !== undefined && ctx.config.scale.databaseUrl === undefined) {
    return { imagesDir: undefined, labelsPath: undefined, demo: false };
  }
  if (ctx.config.scale.databaseUrl !== undefined) {
    // A replica shows results from the shared images folder: there is no demo catalog to draw.
    if (configured.imagesDir === undefined) {
      throw new LookalikeError(
        'CONFIG_INVALID',
        'DATABASE_URL is set: set LOOKALIKE_CATALOG_DIR to this machine’s mount of the catalog’s images folder',
      );
    }
    return { imagesDir: configured.imagesDir, labelsPath: configured.labelsPath, demo: false };
  }
  if (configured.imagesDir !== undefined) {
    // A missing folder beside a stored catalog (an unmounted share) is not fatal: the catalog
    // answers, and the background index refuses the mass removal (REINDEX_MASS_REMOVAL).
    if (!existsSync(configured.imagesDir) && !catalogExists(ctx.config.dataDir)) {
      throw new LookalikeError('CATALOG_NOT_FOUND', `LOOKALIKE_CATALOG_DIR ${configured.imagesDir} does not exist`);
    }
    return { imagesDir: configured.imagesDir, labelsPath: configured.labelsPath, demo: false };
  }
  // A data dir indexed from a feed (`lookalike index --feed`): that feed catalog, not the demo.
  if (storedFeedSource(ctx.config.dataDir) !== undefined) {
    return { imagesDir: undefined, labelsPath: undefined, demo: false };
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
 * Runs the incremental index in the background through the service (so it answers INDEX_BUILDING
 * and the indexing notice meanwhile). Interrupted by shutdown, it resumes from its checkpoint on
 * the next start.
 */
function backgroundIndex(
  ctx: CliContext,
  service: SimilarityService,
  why: string,
  proc: ProcessControl,
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
      if (proc.stopping) {
        ctx.stderr.write('Indexing interrupted by shutdown; it resumes on the next start.\n');
        return;
      }
      const e = asLookalikeError(err);
      if (e.code === 'REINDEX_MASS_REMOVAL') {
        // Nothing was changed: the stored catalog keeps answering. The operator decides.
        const { wouldRemove, total, imagesDir } = e.details;
        ctx.logger.warn(
          { code: e.code, wouldRemove, total, imagesDir },
          'start-up index refused: it would remove most of the catalog; answering from the stored catalog',
        );
        ctx.stderr.write(
          `Indexing refused: ${e.userMessage}\nStill answering from the ${String(total)} stored items. ` +
            'To remove them, run `lookalike index --allow-removals` or /reindex in chat and confirm.\n',
        );
        return;
      }
      ctx.logger.error({ code: e.code, err }, 'start-up index failed');
      ctx.stderr.write(`Indexing failed: ${e.code}: ${e.message}\n`);
    });
}

/** What start-up tells the shutdown message. */
interface StartState {
  indexing: boolean;
}

async function startAll(ctx: CliContext, proc: ProcessControl, state: StartState): Promise<void> {
  const { config, logger } = ctx;
  const dirs = await resolveCatalogDirs(ctx);
  const embedder = await openEmbedder(ctx);
  const { catalog, store, service, metrics, claims, readiness, feedback } = await startRuntime(proc, {
    config,
    logger,
    embedder,
    catalog: dirs,
  });

  const http = createHttpServer({
    service,
    logger,
    localPage: config.http.localPage,
    imageLimits: config.image,
    host: config.http.host,
    publicHosts: config.http.publicHosts,
    metrics,
    readiness,
  });
  proc.add(httpComponent(http));
  const address = await listenOn(http, config.http);
  const shownHost = address.host.includes(':') ? `[${address.host}]` : address.host;
  if (config.http.localPage) ctx.stdout.write(`Local page: http://${shownHost}:${address.port}\n`);
  else ctx.stdout.write(`Listening on http://${shownHost}:${address.port} (local page off)\n`);
  ctx.stderr.write(`Weights: ${embedder.weights.description}\n`);

  if (store.kind === 'postgres') {
    // A replica of the shared catalog: reindexes are an operator's decision (`lookalike index`,
    // /reindex), not every replica's start-up.
    const { version } = store.catalog.status();
    ctx.stderr.write(
      `PostgreSQL catalog ${store.name}: ${catalog.size()} items at version ${version}; run \`lookalike index\` or /reindex to update it\n`,
    );
  } else {
    // Incremental: a no-op when nothing changed, and it finishes an index interrupted last time.
    // Started before the adapters log in, so the first photo already meets a running index.
    const info = store.catalog.info();
    const source =
      info.feed === undefined ? (info.imagesDir ?? dirs.imagesDir) : `the feed ${feedSourceForLog(info.feed.source)}`;
    const why =
      info.size === 0
        ? `${dirs.demo ? 'First run with the demo catalog' : `The catalog in ${info.dataDir} is empty`}: indexing ${source} now (items become searchable as they are indexed).`
        : info.modelMismatch
          ? 'The catalog was built with other weights: re-embedding every image now.'
          : `Catalog: ${info.size} items from ${source}; checking for changes in the background.`;
    state.indexing = true;
    void backgroundIndex(ctx, service, why, proc).finally(() => {
      state.indexing = false;
    });
  }

  if (config.discord !== undefined) {
    const discord = createDiscordBot({ ...config.discord, service, logger, claims, feedback });
    proc.add(chatComponent('discord', discord));
    await discord.start();
    ctx.stderr.write(`Discord: connected as ${discord.client.user?.tag ?? 'the bot'}\n`);
  }
  if (config.slack !== undefined) {
    const slack = createSlackBot({ ...config.slack, service, logger, claims, feedback });
    proc.add(chatComponent('slack', slack));
    // The token is verified (and Socket Mode connected) before Slack's events are routed here.
    await slack.start();
    if (slack.route !== undefined) http.addRoute(slack.route);
    ctx.stderr.write(
      slack.mode === 'socket' ? 'Slack: connected (Socket Mode)\n' : 'Slack: receiving events at POST /slack/events\n',
    );
  }
  if (config.discord === undefined && config.slack === undefined) {
    ctx.stderr.write(
      'No chat tokens configured: only the local page runs. See .env.example to add Discord or Slack.\n',
    );
  }
}

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'serve the local page, and the Discord/Slack bots when their tokens are set',
  usage: USAGE,
  async run(argv, ctx) {
    if (argv.length > 0) {
      const arg = argv[0] ?? '';
      ctx.stderr.write(
        `lookalike start: ${arg.startsWith('-') ? `Unknown option '${arg}'` : `unexpected argument "${arg}"`}: ` +
          'start takes no arguments (configure it with environment variables; see .env.example)\n',
      );
      return 2;
    }
    const state: StartState = { indexing: false };
    return runProcess({
      logger: ctx.logger,
      start: (proc) => startAll(ctx, proc, state),
      onShutdown(reason) {
        ctx.stderr.write(`\n${reason} received: finishing in-flight answers and shutting down…\n`);
        if (state.indexing) ctx.stderr.write('Waiting for the running index to reach a checkpoint…\n');
      },
    });
  },
};
