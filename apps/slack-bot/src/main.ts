/**
 * Runs lookalike on Slack only, plus /healthz and (unless LOCAL_PAGE=off) the local page.
 * Composition root: config → root pino logger → embedder → catalog → service → Slack bot →
 * the one HTTP server (with POST /slack/events in HTTP mode).
 * SIGTERM/SIGINT: stop taking work, let in-flight answers finish, close everything.
 */
import { LookalikeError, loadConfig } from '@lookalike/core';
import { UNTRAINED_WEIGHTS_WARNING } from '@lookalike/embedder';
import { openRuntime } from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';
import { createSlackBot } from '@lookalike/slack';
import { pino } from 'pino';

/** Longest wait for in-flight answers on shutdown before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof LookalikeError && err.code === 'CONFIG_INVALID') {
      const problems = (err.details.problems as string[] | undefined) ?? [];
      process.stderr.write(`slack-bot: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 78;
    }
    throw err;
  }
  const root = pino({ level: config.logLevel, base: { app: 'lookalike-slack' } });
  const log = root.child({ component: 'main' });
  const slack = config.slack;
  if (slack === undefined) {
    log.fatal({}, 'SLACK_BOT_TOKEN is not set: nothing to run');
    return 78;
  }

  const { embedder, service } = await openRuntime({ config, logger: root });
  if (embedder.weights.untrained) log.warn({}, UNTRAINED_WEIGHTS_WARNING);

  const bot = createSlackBot({
    service,
    botToken: slack.botToken,
    signingSecret: slack.signingSecret,
    appToken: slack.appToken,
    adminUserIds: slack.adminUserIds,
    apiUrl: slack.apiUrl,
    logger: root,
  });
  const http = createHttpServer({
    service,
    logger: root,
    localPage: config.http.localPage,
    maxUploadBytes: config.embedder.maxBytes,
    routes: bot.route === undefined ? [] : [bot.route],
  });

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down: finishing in-flight answers');
    const force = setTimeout(() => {
      log.error({}, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      await http.close();
      await bot.stop();
      await service.close();
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    log.info({}, 'bye');
    process.exitCode = 0;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  // Verify the token (and connect, in Socket Mode) before Slack can reach us.
  try {
    await bot.start();
  } catch (err) {
    await bot.stop();
    await service.close();
    throw err;
  }
  const address = await http.listen(config.http.port, config.http.host);
  log.info(
    { ...address, localPage: config.http.localPage, mode: bot.mode },
    bot.mode === 'http'
      ? 'listening; Slack events at POST /slack/events'
      : 'listening; Slack connected over Socket Mode',
  );
  return 0;
}

main().then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    const message =
      err instanceof LookalikeError
        ? `${err.code}: ${err.message}`
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    process.stderr.write(`slack-bot: ${message}\n`);
    process.exitCode = 1;
  },
);
