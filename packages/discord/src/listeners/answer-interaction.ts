/**
 * The answer to `/similar` and "Find similar": defer at once (Discord allows 3 s), then edit the
 * deferred reply with the answer, or replace it with a private error sentence.
 */
import { reportFailure } from '@lookalike/chat';
import type { FindSimilarOptions, MetadataFilters } from '@lookalike/core';
import { safeErr } from '../errors.js';
import { renderAnswer } from '../render.js';
import { recordAnswered } from './answered.js';
import { replaceDeferredWithError } from './replies.js';
import type { AttachmentInfo, DiscordDeps, RepliableInteraction } from './types.js';

export interface InteractionQuery {
  k?: number | undefined;
  filters?: MetadataFilters | undefined;
}

export async function answerInteraction(
  interaction: RepliableInteraction,
  image: AttachmentInfo,
  query: InteractionQuery,
  requestId: string,
  command: string,
  deps: DiscordDeps,
): Promise<void> {
  const rlog = deps.log.child({ requestId, interactionId: interaction.id, command });
  try {
    await interaction.deferReply();
  } catch (err) {
    rlog.error({ err: safeErr(err) }, 'deferReply failed');
    return;
  }
  try {
    const options: FindSimilarOptions = {
      userId: `discord:${interaction.user.id}`,
      requestId,
      surface: 'discord',
      ...(query.k === undefined ? {} : { k: query.k }),
      ...(query.filters === undefined || Object.keys(query.filters).length === 0 ? {} : { filters: query.filters }),
    };
    const answer = await deps.service.findSimilar({ url: image.url }, options);
    const extraImages = deps.settings.attachImages ? await answer.images() : [];
    const sent = await interaction.editReply({ ...renderAnswer(answer, extraImages), allowedMentions: { parse: [] } });
    await recordAnswered(deps, sent, answer);
    rlog.info({ results: answer.results.length, notices: answer.notices.map((n) => n.code) }, 'answered command');
  } catch (err) {
    await reportFailure(err, {
      log: rlog,
      message: 'command failed',
      serializeError: safeErr,
      post: (text) => replaceDeferredWithError(interaction, text, rlog),
    });
  }
}
