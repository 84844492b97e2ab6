/**
 * MESSAGE_CREATE: photos posted in a watched channel (or with a mention of the bot) get one
 * answer per image, up to the shared cap.
 */
import { answerImages, newRequestId } from '@lookalike/chat';
import { type Logger, USER_MESSAGES } from '@lookalike/core';
import { safeErr } from '../errors.js';
import { isImageAttachment, renderAnswer } from '../render.js';
import { recordAnswered } from './answered.js';
import { keepTyping, replyToMessage } from './replies.js';
import type { AttachmentInfo, DiscordDeps, DiscordMessage } from './types.js';

const CONTENT_HINT =
  'received a message with no content and no attachments: enable the Message Content intent ' +
  '(Developer Portal → your app → Bot → Privileged Gateway Intents) or images will never arrive';

/** True when every post in the message's channel (or its thread's parent) is answered. */
export function isWatchedChannel(message: Pick<DiscordMessage, 'channelId' | 'channel'>, watch: readonly string[]) {
  if (watch.includes('*') || watch.includes(message.channelId)) return true;
  const parentId = message.channel.parentId ?? null;
  return parentId !== null && watch.includes(parentId);
}

export async function onMessageCreate(message: DiscordMessage, deps: DiscordDeps): Promise<void> {
  if (message.author.bot || message.system) return;
  const me = deps.botUserId();
  const mentioned = me !== undefined && message.mentions.users.has(me);
  if (!isWatchedChannel(message, deps.settings.watchChannels) && !mentioned) return;
  const log = deps.log.child({ channelId: message.channelId, messageId: message.id });

  if (
    !deps.state.contentHintLogged &&
    message.content === '' &&
    message.attachments.size === 0 &&
    message.embeds.length === 0 &&
    message.stickers.size === 0
  ) {
    deps.state.contentHintLogged = true;
    deps.log.warn({ channelId: message.channelId }, CONTENT_HINT);
  }

  const attachments = [...message.attachments.values()];
  const images = attachments.filter(isImageAttachment);
  // Non-image posts in watched channels are none of our business.
  if (images.length === 0 && !mentioned) return;
  const key = `discord:${message.id}`;
  if (!(await deps.claims.claim(key))) {
    log.debug({}, 'message already answered');
    return;
  }
  try {
    await answerMessage(message, images, attachments.length, deps, log);
  } catch (err) {
    await deps.claims.failed(key).catch(() => {});
    throw err;
  }
  await deps.claims.done(key).catch((err: unknown) => log.warn({ err: safeErr(err) }, 'could not record the claim'));
}

async function answerMessage(
  message: DiscordMessage,
  images: AttachmentInfo[],
  attachmentCount: number,
  deps: DiscordDeps,
  log: Logger,
): Promise<void> {
  if (images.length === 0) {
    const code = attachmentCount > 0 ? 'UNSUPPORTED_IMAGE' : 'NO_IMAGE';
    await replyToMessage(message, { content: USER_MESSAGES[code] }, newRequestId(), log);
    return;
  }

  const result = await answerImages({
    images,
    log,
    cancelled: deps.stopping,
    message: 'image post failed',
    serializeError: safeErr,
    answer: async ({ image, requestId, log: rlog }) => {
      const stopTyping = keepTyping(message.channel, rlog);
      try {
        const answer = await deps.service.findSimilar(
          { url: image.url },
          { userId: `discord:${message.author.id}`, requestId, surface: 'discord' },
        );
        const extraImages = deps.settings.attachImages ? await answer.images() : [];
        stopTyping();
        const sent = await replyToMessage(message, renderAnswer(answer, extraImages), requestId, rlog);
        if (sent)
          rlog.info(
            { results: answer.results.length, notices: answer.notices.map((n) => n.code) },
            'answered image post',
          );
        if (sent) await recordAnswered(deps, sent.sent, answer);
      } finally {
        stopTyping();
      }
    },
    replyError: (text, job) => replyToMessage(message, { content: text }, job.requestId, job.log),
  });
  log.debug({ ...result }, 'image post done');
}
