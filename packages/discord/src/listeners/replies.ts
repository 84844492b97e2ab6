/**
 * The ways a Discord listener answers: a reply to a post, an ephemeral error, and the switch
 * from a deferred public "thinking…" reply to an ephemeral error.
 */
import type { Logger, UserErrorCode } from '@lookalike/core';
import { USER_MESSAGES } from '@lookalike/core';
import { MessageFlags } from 'discord.js';
import { safeErr } from '../errors.js';
import type { RenderedAnswer } from '../render.js';
import type { DiscordMessage, RepliableInteraction } from './types.js';

/**
 * Replies to a post without pinging anyone; a failure is logged with the request id, never thrown.
 * Resolves with `{ sent }` (what discord.js resolved with: the new message), or undefined on failure.
 */
export async function replyToMessage(
  message: DiscordMessage,
  body: RenderedAnswer | { content: string },
  requestId: string,
  log: Logger,
): Promise<{ sent: unknown } | undefined> {
  try {
    const sent = await message.reply({ ...body, allowedMentions: { parse: [], repliedUser: false } });
    return { sent };
  } catch (err) {
    log.error({ err: safeErr(err), requestId, channelId: message.channelId, messageId: message.id }, 'reply failed');
    return undefined;
  }
}

/** Answers an interaction at once with a private error sentence. */
export async function ephemeralError(
  interaction: RepliableInteraction,
  code: UserErrorCode,
  requestId: string,
  log: Logger,
): Promise<void> {
  try {
    await interaction.reply({ content: USER_MESSAGES[code], flags: MessageFlags.Ephemeral });
  } catch (err) {
    log.error({ err: safeErr(err), requestId, interactionId: interaction.id }, 'error reply failed');
  }
}

/** Errors are private: drops the public deferred reply, then follows up ephemerally. Never throws. */
export async function replaceDeferredWithError(
  interaction: RepliableInteraction,
  text: string,
  log: Logger,
): Promise<void> {
  try {
    await interaction.deleteReply();
  } catch (err) {
    log.warn({ err: safeErr(err) }, 'could not delete the deferred reply');
  }
  try {
    await interaction.followUp({ content: text, flags: MessageFlags.Ephemeral });
  } catch (err) {
    log.error({ err: safeErr(err) }, 'error reply failed');
  }
}

/** Discord shows "typing…" for 10 s: repeats it every 8 s until the returned function is called. */
export function keepTyping(channel: DiscordMessage['channel'], log: Logger): () => void {
  if (channel.sendTyping === undefined) return () => {};
  const send = () => {
    channel.sendTyping?.().catch((err: unknown) => log.debug({ err: safeErr(err) }, 'sendTyping failed'));
  };
  send();
  const timer = setInterval(send, 8000);
  timer.unref();
  return () => clearInterval(timer);
}
