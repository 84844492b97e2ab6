/**
 * Runs lookalike on Discord only, plus /healthz and (unless LOCAL_PAGE=off) the local page.
 * Composition root: config → root pino logger → embedder → catalog → service → HTTP → bot.
 * SIGTERM/SIGINT: stop taking work, let in-flight answers finish, log out, close everything.
 */
import { loadConfigOrReport } from '@lookalike/core';
import { createDiscordBot } from '@lookalike/discord';
import { UNTRAINED_WEIGHTS_WARNING } from '@lookalike/embedder';
import { openRuntime, stopOnSignal } from '@lookalike/runtime';
import { createHttpServer } from '@lookalike/server';
import { pino } from 'pino';

/** Longest wait for in-flight answers on shutdown before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<number> {
  const config = loadConfigOrReport('discord-bot');
  if (config === undefined) return 78;
  const root = pino({ level: config.logLevel, base: { app: 'lookalike-discord' } });
  const log = root.child({ component: 'main' });
  const discord = config.discord;
  if (discord === undefined) {
    log.fatal({}, 'DISCORD_TOKEN is not set: nothing to run');
    return 78;
  }

  const { embedder, service } = await openRuntime({ config, logger: root });
  if (embedder.weights.untrained) log.warn({}, UNTRAINED_WEIGHTS_WARNING);
  const http = createHttpServer({ service, logger: root, localPage: config.http.localPage });
  const address = await http.listen(config.http.port, config.http.host);
  log.info({ ...address, localPage: config.http.localPage }, 'listening');

  const bot = createDiscordBot({
    service,
    token: discord.token,
    appId: discord.appId,
    watchChannels: discord.watchChannels,
    adminRoleIds: discord.adminRoleIds,
    apiBase: discord.apiBase,
    attachImages: discord.attachImages,
    logger: root,
  });

  stopOnSignal(
    log,
    async () => {
      await bot.stop();
      await http.close();
      await service.close();
    },
    SHUTDOWN_GRACE_MS,
  );

  await bot.start();
  return 0;
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
