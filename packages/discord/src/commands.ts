/**
 * The application commands lookalike registers, as the exact JSON bodies Discord receives,
 * and the one call that registers them.
 */
import type { Facets } from '@lookalike/core';
import { DEFAULT_K, LookalikeError, MAX_K } from '@lookalike/core';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  PermissionFlagsBits,
  REST,
  type RESTPostAPIApplicationCommandsJSONBody,
  Routes,
} from 'discord.js';
import { createDiscordRestAgent } from './rest-agent.js';

/** Command names, shared by the definitions and the interaction router. */
export const COMMAND_NAMES = Object.freeze({
  similar: 'similar',
  findSimilar: 'Find similar',
  reindex: 'reindex',
});

/** What a /reindex confirmation button does. */
export type ReindexButtonAction = 'confirm' | 'cancel';

/** `reindex:<action>:<userId>[:<count>]`; at most 15 + 1 + 64 + 1 + 16 = 97 characters (Discord's limit is 100). */
const REINDEX_BUTTON = /^reindex:(confirm|cancel):([^:\s]{1,64})(?::(\d{1,16}))?$/;

/** What a /reindex button's custom_id says. */
export interface ReindexButtonId {
  action: ReindexButtonAction;
  /** The admin who ran /reindex (the only one whose press counts). */
  userId: string;
  /**
   * The removal count the refusal showed (`wouldRemove`): a confirm runs with it as `maxRemovals`.
   * Undefined for an id without a count (buttons from before the count was added): such a
   * confirm runs a plain reindex, which asks again with a counted button if it is still needed.
   */
  maxRemovals: number | undefined;
}

/**
 * The custom_id of a /reindex confirmation button: the action, the id of the admin who asked and
 * the count the refusal showed, so a press is understood after a restart, only that admin's press
 * counts, and a confirm removes no more than what was shown.
 * @param userId a Discord user id (a snowflake; at most 64 characters, no `:`)
 * @param maxRemovals the refusal's `wouldRemove` (a non-negative safe integer), or undefined for no count
 * @example reindexButtonId('confirm', '123', 8) === 'reindex:confirm:123:8'
 */
export function reindexButtonId(action: ReindexButtonAction, userId: string, maxRemovals?: number): string {
  return maxRemovals === undefined ? `reindex:${action}:${userId}` : `reindex:${action}:${userId}:${maxRemovals}`;
}

/** What a /reindex button's custom_id says, or undefined for other components (and malformed ids). */
export function parseReindexButtonId(customId: string): ReindexButtonId | undefined {
  const m = REINDEX_BUTTON.exec(customId);
  if (m === null) return undefined;
  const maxRemovals = m[3] === undefined ? undefined : Number(m[3]);
  if (maxRemovals !== undefined && !Number.isSafeInteger(maxRemovals)) return undefined;
  return { action: m[1] as ReindexButtonAction, userId: m[2]!, maxRemovals };
}

/** Discord allows at most 25 choices per option. */
const MAX_CHOICES = 25;
/** Discord limits a choice's name and value to 100 characters. */
const MAX_CHOICE_LENGTH = 100;

/**
 * The JSON bodies of `/similar`, the "Find similar" message command and `/reindex`.
 * Gender choices come from the catalog (at most 25); the category is autocompleted.
 */
export function commandDefinitions(facets: Facets): RESTPostAPIApplicationCommandsJSONBody[] {
  const genders = facets.genders
    .filter((g) => g.length > 0 && g.length <= MAX_CHOICE_LENGTH)
    .slice(0, MAX_CHOICES)
    .map((g) => ({ name: g, value: g }));
  return [
    {
      type: ApplicationCommandType.ChatInput,
      name: COMMAND_NAMES.similar,
      description: 'Find the catalog items that look most like a photo',
      contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
      options: [
        {
          type: ApplicationCommandOptionType.Attachment,
          name: 'image',
          description: 'The photo to search with',
          required: true,
        },
        {
          type: ApplicationCommandOptionType.String,
          name: 'gender',
          description: 'Only items for this gender',
          required: false,
          ...(genders.length > 0 ? { choices: genders } : {}),
        },
        {
          type: ApplicationCommandOptionType.String,
          name: 'category',
          description: 'Only items of this article type (e.g. Shirts)',
          required: false,
          autocomplete: true,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'k',
          description: `How many results (1-${MAX_K}, default ${DEFAULT_K})`,
          required: false,
          min_value: 1,
          max_value: MAX_K,
        },
      ],
    },
    {
      type: ApplicationCommandType.Message,
      name: COMMAND_NAMES.findSimilar,
      contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
    },
    {
      type: ApplicationCommandType.ChatInput,
      name: COMMAND_NAMES.reindex,
      description: 'Admins: update the search index from the catalog folder',
      contexts: [InteractionContextType.Guild],
      default_member_permissions: PermissionFlagsBits.ManageGuild.toString(),
    },
  ];
}

export interface RegisterCommandsOptions {
  token: string;
  /** The application id (the bot's user id). */
  appId: string;
  /** Register in one guild (instant, for development); global otherwise (may take up to an hour). */
  guildId?: string | undefined;
  /** REST base, e.g. `http://127.0.0.1:PORT/api` in tests. @defaultValue Discord's API */
  apiBase?: string | undefined;
  facets: Facets;
}

/** One registered command as Discord echoes it back. */
export interface RegisteredCommand {
  id: string;
  name: string;
  type: number;
}

/**
 * Replaces the application's commands (guild-scoped when `guildId` is given) with
 * {@link commandDefinitions}. Uses @discordjs/rest, so rate limits are honoured.
 * @throws LookalikeError PLATFORM_ERROR when Discord rejects the request.
 */
export async function registerCommands(options: RegisterCommandsOptions): Promise<RegisteredCommand[]> {
  const agent = createDiscordRestAgent();
  const rest = new REST({ version: '10', agent, ...(options.apiBase === undefined ? {} : { api: options.apiBase }) });
  rest.setToken(options.token);
  const route =
    options.guildId === undefined
      ? Routes.applicationCommands(options.appId)
      : Routes.applicationGuildCommands(options.appId, options.guildId);
  try {
    const result = (await rest.put(route, { body: commandDefinitions(options.facets) })) as RegisteredCommand[];
    return result;
  } catch (err) {
    throw new LookalikeError('PLATFORM_ERROR', `Discord refused the command registration: ${String(err)}`, {
      cause: err,
      details: { guildId: options.guildId ?? null },
    });
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
    await agent.close().catch(() => {});
  }
}
