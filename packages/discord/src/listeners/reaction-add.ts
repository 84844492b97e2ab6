/**
 * MESSAGE_REACTION_ADD: a 👍 or 👎 on one of the bot's answers is recorded as feedback (with a
 * salted hash of the user id). Reactions by bots, other emoji and reactions on other messages
 * are ignored. Needs the GuildMessageReactions intent and Partials.Message / Partials.Reaction
 * (answers are rarely in discord.js's message cache).
 */
import type { DiscordDeps } from './types.js';

/** A reaction as the listener reads it; discord.js's `MessageReaction` (partial or not) satisfies it. */
export interface DiscordReaction {
  emoji: { name: string | null };
  message: { id: string };
}

/** The reacting user; discord.js's `User` (partial or not) satisfies it. */
export interface DiscordReactor {
  id: string;
  bot?: boolean | null;
}

/** Skin-tone modifiers (U+1F3FB–U+1F3FF) and the emoji variation selector. */
const MODIFIERS = /[\u{1F3FB}-\u{1F3FF}\u{FE0F}]/gu;

/** 'up' for 👍 (any skin tone), 'down' for 👎, undefined for any other emoji. */
export function voteOfEmoji(name: string | null): 'up' | 'down' | undefined {
  const base = (name ?? '').replace(MODIFIERS, '');
  if (base === '👍') return 'up';
  if (base === '👎') return 'down';
  return undefined;
}

export async function onReactionAdd(
  reaction: DiscordReaction,
  user: DiscordReactor,
  deps: Pick<DiscordDeps, 'feedback' | 'log' | 'botUserId'>,
): Promise<void> {
  const feedback = deps.feedback;
  if (feedback === undefined || !feedback.enabled) return;
  if (user.bot === true || user.id === deps.botUserId()) return;
  const kind = voteOfEmoji(reaction.emoji.name);
  if (kind === undefined) return;
  const recorded = await feedback.record({
    kind,
    surface: 'discord',
    messageKey: reaction.message.id,
    userId: `discord:${user.id}`,
  });
  if (recorded) deps.log.debug({ kind, messageId: reaction.message.id }, 'reaction recorded');
}
