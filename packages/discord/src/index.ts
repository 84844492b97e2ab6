export { MAX_IMAGES_PER_MESSAGE } from '@lookalike/chat';
export * from './bot.js';
export * from './commands.js';
export { answerInteraction, type InteractionQuery } from './listeners/answer-interaction.js';
export { recordAnswered, sentMessageId } from './listeners/answered.js';
export { categoryChoices, onAutocomplete } from './listeners/autocomplete.js';
export { onFindSimilar } from './listeners/find-similar.js';
export { onInteractionCreate } from './listeners/interaction-create.js';
export { isWatchedChannel, onMessageCreate } from './listeners/message-create.js';
export { onMoreButton, readPress } from './listeners/more-like-this.js';
export {
  type DiscordReaction,
  type DiscordReactor,
  onReactionAdd,
  voteOfEmoji,
} from './listeners/reaction-add.js';
export {
  isExpiredInteractionToken,
  isReindexAdmin,
  onReindexCommand,
  reindexInReply,
} from './listeners/reindex-command.js';
export { onReindexButton } from './listeners/reindex-confirm.js';
export { onSimilarCommand } from './listeners/similar-command.js';
export type * from './listeners/types.js';
export * from './more-chain.js';
export * from './render.js';
