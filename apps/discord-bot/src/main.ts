/**
 * Runs lookalike on Discord only, plus /healthz, /readyz, /metrics and (unless LOCAL_PAGE=off) the local page.
 * Composition root: config → root pino logger → metrics → embedder → catalog → service → HTTP → bot.
 * runProcess owns SIGTERM/SIGINT: stop taking work, let in-flight answers finish, log out, close everything.
 */
import { loadConfigOrReport } from '@lookalike/core';
import { createDiscordBot } from '@lookalike/discord';
import { UNTRAINED_WEIGHTS_WARNING } from '@lookalike/embedder';
import { chatComponent, createRootLogger, httpComponent, listenOn, runProcess, startRuntime } from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';

async function main(): Promise<number> {
  const config = loadConfigOrReport('discord-bot');
  if (config === undefined) return 78;
  const root = createRootLogger({ level: config.logLevel, app: 'lookalike-discord' });
  const log = root.child({ component: 'main' });
  const discord = config.discord;
  if (discord === undefined) {
    log.fatal({}, 'DISCORD_TOKEN is not set: nothing to run');
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
      const http = createHttpServer({
        service,
        logger: root,
        localPage: config.http.localPage,
        imageLimits: config.image,
        host: config.http.host,
        publicHosts: config.http.publicHosts,
        metrics,
        readiness,
      });
      proc.add(httpComponent(http));
      const address = await listenOn(http, config.http);
      log.info({ ...address, localPage: config.http.localPage }, 'listening');

      const bot = createDiscordBot({ ...discord, service, logger: root, claims, feedback });
      proc.add(chatComponent('discord', bot));
      await bot.start();
    },
  });
}

main().then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`discord-bot: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
