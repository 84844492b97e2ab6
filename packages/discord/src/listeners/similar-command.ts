/** `/similar image:<attachment> [gender] [category] [k]`. */
import { newRequestId } from '@lookalike/chat';
import { COMMAND_NAMES } from '../commands.js';
import { isImageAttachment } from '../render.js';
import { answerInteraction } from './answer-interaction.js';
import { ephemeralError } from './replies.js';
import type { DiscordDeps, SimilarCommandInteraction } from './types.js';

export async function onSimilarCommand(interaction: SimilarCommandInteraction, deps: DiscordDeps): Promise<void> {
  const requestId = newRequestId();
  const att = interaction.options.getAttachment('image', false);
  if (att === null || !isImageAttachment(att)) {
    await ephemeralError(interaction, att === null ? 'NO_IMAGE' : 'UNSUPPORTED_IMAGE', requestId, deps.log);
    return;
  }
  const filters: Record<string, string> = {};
  const gender = interaction.options.getString('gender');
  const category = interaction.options.getString('category');
  if (gender !== null && gender !== '') filters.gender = gender;
  if (category !== null && category !== '') filters.articleType = category;
  // Without k the service applies its configured default.
  const k = interaction.options.getInteger('k') ?? undefined;
  await answerInteraction(interaction, att, { k, filters }, requestId, COMMAND_NAMES.similar, deps);
}
