/**
 * discord.js sends REST requests with its own undici 6 `request()`. When no agent is given it
 * uses the process-wide global dispatcher, and importing undici 7 (which other parts of the
 * product use) installs an undici 7 Agent there. undici 6 request + undici 7 Agent fails on
 * multipart bodies ("action is not a function"), i.e. on every reply with a collage.
 * So the adapter always hands discord.js an Agent from discord.js's own undici.
 */
import { createRequire } from 'node:module';
import type { RESTOptions } from 'discord.js';

type DiscordAgent = NonNullable<RESTOptions['agent']> & { close(): Promise<void> };

/** A fresh Agent from the undici copy @discordjs/rest itself loads. Close it when done. */
export function createDiscordRestAgent(): DiscordAgent {
  const fromHere = createRequire(import.meta.url);
  const restEntry = createRequire(fromHere.resolve('discord.js')).resolve('@discordjs/rest');
  const undici = createRequire(restEntry)('undici') as { Agent: new () => DiscordAgent };
  return new undici.Agent();
}
