export { type ParsedSimilarArgs, parseSimilarArgs } from './args.js';
export { createSlackBot, type SlackBot, type SlackBotOptions, type SlackRoute } from './bot.js';
export { candidateFiles, FILES_READ_HINT, isImageFile, isPartialFile, type SlackFile } from './files.js';
export { escapeMrkdwn, renderAnswer, renderProgress, renderSummary } from './render.js';
export { redactTokens, toSlackLogger } from './slack-logger.js';
export { TtlSet } from './ttl-cache.js';
