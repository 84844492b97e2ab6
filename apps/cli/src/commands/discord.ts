/**
 * `lookalike discord register [--guild ID]`
 * Registers /similar, "Find similar" and /reindex with Discord: in one guild (instant, for
 * development) with --guild, globally otherwise. Gender choices come from the catalog in the
 * data dir when there is one.
 */
import { catalogExists, openCatalog } from '@lookalike/catalog';
import { type Facets, LookalikeError } from '@lookalike/core';
import { registerCommands } from '@lookalike/discord';
import { type CliContext, defineCommand, usageError } from '../context.js';
import { openEmbedder } from '../embedder.js';

const USAGE = 'discord register [--guild ID]';

/** Genders and article types from the indexed catalog; empty when there is none (or it can't be opened). */
async function catalogFacets(ctx: CliContext): Promise<Facets> {
  const empty: Facets = { genders: [], articleTypes: [] };
  const dataDir = ctx.config.dataDir;
  if (!catalogExists(dataDir)) {
    ctx.stderr.write(`No catalog in ${dataDir}: /similar will have no gender choices.\n`);
    return empty;
  }
  try {
    const embedder = await openEmbedder(ctx);
    try {
      const catalog = await openCatalog({ dataDir, embedder, logger: ctx.logger, allowModelMismatch: true });
      try {
        return { genders: catalog.facet('gender'), articleTypes: catalog.facet('articleType') };
      } finally {
        await catalog.close();
      }
    } finally {
      await embedder.dispose();
    }
  } catch (err) {
    ctx.logger.debug({ err }, 'could not read catalog facets');
    ctx.stderr.write(
      `Could not read the catalog in ${dataDir} (${String(err)}): /similar will have no gender choices.\n`,
    );
    return empty;
  }
}

export const discordCommand = defineCommand({
  name: 'discord',
  summary: 'register the Discord slash and context-menu commands',
  usage: USAGE,
  subcommands: [
    {
      name: 'register',
      usage: USAGE,
      summary: `Register /similar, "Find similar" and /reindex with Discord: in one guild with --guild
(instant, for development), globally otherwise. Needs DISCORD_TOKEN and DISCORD_APP_ID.`,
    },
  ],
  options: { guild: { type: 'string' } },
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 1 || positionals[0] !== 'register') {
      return usageError(ctx, USAGE, 'expected the sub-command "register"');
    }
    const guildId = values.guild;
    if (guildId !== undefined && !/^\d{5,25}$/.test(guildId))
      return usageError(ctx, USAGE, '--guild expects a guild id');
    const discord = ctx.config.discord;
    if (discord === undefined) {
      throw new LookalikeError('CONFIG_INVALID', 'DISCORD_TOKEN is not set', {
        details: { variables: ['DISCORD_TOKEN'] },
      });
    }
    if (discord.appId === undefined) {
      throw new LookalikeError('CONFIG_INVALID', 'DISCORD_APP_ID is not set', {
        details: { variables: ['DISCORD_APP_ID'] },
      });
    }
    const facets = await catalogFacets(ctx);
    const registered = await registerCommands({
      token: discord.token,
      appId: discord.appId,
      guildId,
      apiBase: discord.apiBase,
      facets,
    });
    const where = guildId === undefined ? 'globally (may take up to an hour to appear)' : `in guild ${guildId}`;
    ctx.stdout.write(
      `Registered ${registered.length} commands ${where}: ${registered.map((c) => c.name).join(', ')}\n`,
    );
    return 0;
  },
});
