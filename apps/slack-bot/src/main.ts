/**
 * Runs lookalike on Slack only, plus /healthz, /readyz, /metrics and (unless LOCAL_PAGE=off) the local page.
 * Composition root: config → root pino logger → metrics → embedder → catalog → service → Slack bot →
 * the one HTTP server (with POST /slack/events in HTTP mode).
 * runProcess owns SIGTERM/SIGINT: stop taking work, let in-flight answers finish, close everything.
 */
import { LookalikeError, loadConfigOrReport } from '@lookalike/core';
import { UNTRAINED_WEIGHTS_WARNING } from '@lookalike/embedder';
import { chatComponent, createRootLogger, httpComponent, listenOn, runProcess, startRuntime } from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';
import { createSlackBot } from '@lookalike/slack';

async function main(): Promise<number> {
  const config = loadConfigOrReport('slack-bot');
  if (config === undefined) return 78;
  const root = createRootLogger({ level: config.logLevel, app: 'lookalike-slack' });
  const log = root.child({ component: 'main' });
  const slack = config.slack;
  if (slack === undefined) {
    log.fatal({}, 'SLACK_BOT_TOKEN is not set: nothing to run');
    return 78;
  }

  return runProcess({
    logger: root,
    async start(proc) {
      const { embedder, service, metrics, claims, readiness, feedback } = await startRuntime(proc, {
        config,
        logger: root,
      });
      if (embedder.weights.untrained) log.warn({}, UNTRAINED_WEIGHTS_WARNING);

      const bot = createSlackBot({ ...slack, service, logger: root, claims, feedback });
      proc.add(chatComponent('slack', bot));
      // Verify the token (and connect, in Socket Mode) before Slack can reach us.
      await bot.start();

      const http = createHttpServer({
        service,
        logger: root,
        localPage: config.http.localPage,
        imageLimits: config.image,
        host: config.http.host,
        publicHosts: config.http.publicHosts,
        metrics,
        readiness,
        routes: bot.route === undefined ? [] : [bot.route],
      });
      proc.add(httpComponent(http));
      const address = await listenOn(http, config.http);
      log.info(
        { ...address, localPage: config.http.localPage, mode: bot.mode },
        bot.mode === 'http'
          ? 'listening; Slack events at POST /slack/events'
          : 'listening; Slack connected over Socket Mode',
      );
    },
  });
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
