/**
 * A press of "1"…"N" under an answer: more like that result. Nothing is kept in memory: the
 * button's custom_id names the rank, and the chain (the results' ids, the ids shown before, the
 * filters) is read back from the answer the button is on (its embed footer), so a press works
 * after a restart. The press is deferred at once (Discord allows 3 s), then the new answer, with
 * its own buttons, replaces the "thinking…" reply; a failure replaces it with a private sentence.
 * No download, no embedding: the service searches with the item's stored vector.
 */
import { newRequestId, reportFailure } from '@lookalike/chat';
import { type Logger, LookalikeError, MAX_EXCLUDE, type MoreLikeThisOptions } from '@lookalike/core';
import { safeErr } from '../errors.js';
import { type MoreChain, parseChain, parseMoreButtonId } from '../more-chain.js';
import { renderAnswer } from '../render.js';
import { recordAnswered } from './answered.js';
import { ephemeralError, replaceDeferredWithError } from './replies.js';
import type { DiscordDeps, MoreButtonInteraction } from './types.js';

/** The item a press asks about and the chain it continues, from the message it is on. */
export function readPress(interaction: Pick<MoreButtonInteraction, 'customId' | 'message'>): {
  rank: number;
  itemId: string;
  chain: MoreChain;
} {
  const rank = parseMoreButtonId(interaction.customId);
  if (rank === undefined)
    throw new LookalikeError('BAD_REQUEST', `Not a more-like-this button: ${interaction.customId}`);
  const chain = parseChain(interaction.message.embeds[0]?.footer?.text);
  const itemId = chain.ids[rank - 1];
  if (itemId === undefined) {
    throw new LookalikeError('BAD_REQUEST', `Button ${rank} but the answer shows ${chain.ids.length} results`);
  }
  return { rank, itemId, chain };
}

/** Handles a press of a "more like this" button; other buttons are left alone. Never throws. */
export async function onMoreButton(interaction: MoreButtonInteraction, deps: DiscordDeps): Promise<void> {
  if (parseMoreButtonId(interaction.customId) === undefined) return;
  const requestId = newRequestId();
  const base = deps.log.child({
    requestId,
    interactionId: interaction.id,
    command: 'more',
    button: interaction.customId,
    messageId: interaction.message.id,
  });
  let press: ReturnType<typeof readPress>;
  try {
    press = readPress(interaction);
  } catch (err) {
    base.info({ code: 'BAD_REQUEST', reason: (err as Error).message }, 'more like this press refused');
    await ephemeralError(interaction, 'BAD_REQUEST', requestId, base);
    return;
  }
  const rlog = base.child({ itemId: press.itemId });
  try {
    await interaction.deferReply();
  } catch (err) {
    rlog.error({ err: safeErr(err) }, 'deferReply failed');
    return;
  }
  try {
    const { chain } = press;
    const options: MoreLikeThisOptions = {
      userId: `discord:${interaction.user.id}`,
      requestId,
      surface: 'discord',
      exclude: [...chain.seen, ...chain.ids].slice(-MAX_EXCLUDE),
      ...(Object.keys(chain.filters).length === 0 ? {} : { filters: chain.filters }),
    };
    const answer = await deps.service.moreLikeThis(press.itemId, options);
    const extraImages = deps.settings.attachImages ? await answer.images() : [];
    const sent = await interaction.editReply({ ...renderAnswer(answer, extraImages), allowedMentions: { parse: [] } });
    await recordAnswered(deps, sent, answer);
    await recordPress(deps, interaction, press.itemId, rlog);
    rlog.info(
      { results: answer.results.length, notices: answer.notices.map((n) => n.code) },
      'answered more like this',
    );
  } catch (err) {
    await reportFailure(err, {
      log: rlog,
      message: 'more like this failed',
      serializeError: safeErr,
      post: (text) => replaceDeferredWithError(interaction, text, rlog),
    });
  }
}

/** Records the press for feedback against the answer it was on. Never throws. */
async function recordPress(
  deps: Pick<DiscordDeps, 'feedback'>,
  interaction: MoreButtonInteraction,
  itemId: string,
  log: Logger,
): Promise<void> {
  if (deps.feedback === undefined || !deps.feedback.enabled) return;
  try {
    await deps.feedback.record({
      kind: 'more',
      surface: 'discord',
      messageKey: interaction.message.id,
      itemId,
      userId: `discord:${interaction.user.id}`,
    });
  } catch (err) {
    log.warn({ err: safeErr(err) }, 'could not record the press');
  }
}
