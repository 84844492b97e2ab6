/**
 * Runs lookalike on Slack only, plus /healthz and (unless LOCAL_PAGE=off) the local page.
 * Composition root: config → root pino logger → embedder → catalog → service → Slack bot →
 * the one HTTP server (with POST /slack/events in HTTP mode).
 * SIGTERM/SIGINT: stop taking work, let in-flight answers finish, close everything.
 */
import { LookalikeError, loadConfigOrReport } from '@lookalike/core';
import { UNTRAINED_WEIGHTS_WARNING } from '@lookalike/embedder';
import { openRuntime, stopOnSignal } from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';
import { createSlackBot } from '@lookalike/slack';
import { pino } from 'pino';

/** Longest wait for in-flight answers on shutdown before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<number> {
  const config = loadConfigOrReport('slack-bot');
  if (config === undefined) return 78;
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

  stopOnSignal(
    log,
    async () => {
      await http.close();
      await bot.stop();
      await service.close();
    },
    SHUTDOWN_GRACE_MS,
  );

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
