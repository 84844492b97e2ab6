export { MAX_IMAGES_PER_MESSAGE } from '@lookalike/chat';
export { type AnswerRequest, answerKey, postAnswer, recordAnswered, slackUserId, type Target } from './answer.js';
export { type HistoryMessage, type SlackApi, slackApi } from './api.js';
export { type ParsedSimilarArgs, parseSimilarArgs } from './args.js';
export { createSlackBot, type SlackBot, type SlackBotOptions, type SlackRoute } from './bot.js';
export { platformError } from './errors.js';
export {
  candidateFiles,
  FILES_READ_HINT,
  firstImage,
  imageRefOf,
  imagesAmong,
  isImageFile,
  isPartialFile,
  type SlackFile,
} from './files.js';
export { onAppMention } from './listeners/app-mention.js';
export { onFileShare } from './listeners/file-share.js';
export { NO_IMAGE_IN_MESSAGE, onFindSimilarShortcut } from './listeners/find-similar-shortcut.js';
export { MORE_INTRO, onMoreButton } from './listeners/more-like-this.js';
export { onReactionAdded, type ReactionAddedEvent, voteOfReaction } from './listeners/reaction-added.js';
export {
  CONFIRM_NEEDS_CHANNEL,
  isReindexAdmin,
  onReindexCommand,
  type ReindexInMessage,
  reindexInMessage,
  runningText,
} from './listeners/reindex-command.js';
export { onReindexButton } from './listeners/reindex-confirm.js';
export { answerShare, type ShareSource } from './listeners/share.js';
export {
  findRecentImage,
  noRecentImageText,
  onSimilarCommand,
  unknownWordsText,
} from './listeners/similar-command.js';
export type * from './listeners/types.js';
export {
  BUTTON_VALUE_MAX,
  chainIds,
  MORE_ACTIONS,
  type MoreButtonValue,
  moreButtonValue,
  parseMoreButtonValue,
} from './more-value.js';
export {
  confirmRemovalLabel,
  escapeMrkdwn,
  parseReindexButtonValue,
  REINDEX_ACTIONS,
  REINDEX_NOT_YOURS_TEXT,
  reindexButtonValue,
  renderAnswer,
  renderMassRemoval,
  renderNotices,
  renderProgress,
  renderReindexCancelled,
  renderSummary,
} from './render.js';
export { redactTokens, toSlackLogger } from './slack-logger.js';
export { TtlSet } from './ttl-cache.js';
