/** The "Find similar" message command: the first image of the target message. */
import { newRequestId } from '@lookalike/chat';
import { COMMAND_NAMES } from '../commands.js';
import { isImageAttachment } from '../render.js';
import { answerInteraction } from './answer-interaction.js';
import { ephemeralError } from './replies.js';
import type { DiscordDeps, FindSimilarInteraction } from './types.js';

export async function onFindSimilar(interaction: FindSimilarInteraction, deps: DiscordDeps): Promise<void> {
  const requestId = newRequestId();
  const att = [...interaction.targetMessage.attachments.values()].find(isImageAttachment);
  if (att === undefined) {
    await ephemeralError(interaction, 'NO_IMAGE', requestId, deps.log);
    return;
  }
  await answerInteraction(interaction, att, {}, requestId, COMMAND_NAMES.findSimilar, deps);
}
