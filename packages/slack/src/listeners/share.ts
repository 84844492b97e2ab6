/**
 * A photo shared in a channel (file_share) or with a mention (app_mention): answered once per
 * message, one answer per image up to the shared cap, in the message's thread.
 */
import { answerImages, MAX_IMAGES_PER_MESSAGE, newRequestId, reportFailure } from '@lookalike/chat';
import { USER_MESSAGES } from '@lookalike/core';
import { postAnswer, type Target } from '../answer.js';
import { platformError } from '../errors.js';
import { candidateFiles, imagesAmong } from '../files.js';
import type { ShareEvent, SlackDeps } from './types.js';

export type ShareSource = 'file_share' | 'app_mention';

export async function answerShare(
  ev: ShareEvent & { user: string },
  teamId: string | undefined,
  source: ShareSource,
  deps: SlackDeps,
): Promise<void> {
  const requestId = newRequestId();
  const base = deps.log.child({ source, channel: ev.channel, user: ev.user });
  const rlog = base.child({ requestId });
  const target: Target = { channel: ev.channel, threadTs: ev.thread_ts ?? ev.ts };
  const inThread = (text: string) => deps.api.postMessage({ channel: target.channel, threadTs: target.threadTs, text });
  try {
    const candidates = candidateFiles(ev.files);
    // A plain share of a PDF is none of our business (a mention of the same message may still ask).
    if (source === 'file_share' && candidates.length === 0) return;
    if (!deps.state.seen.add(`${ev.channel}:${ev.ts}`)) {
      rlog.debug({}, 'share already answered');
      return;
    }
    const images = await imagesAmong(candidates, MAX_IMAGES_PER_MESSAGE, deps.api.fileInfo);
    if (images.length === 0) {
      if (source === 'app_mention') await inThread(USER_MESSAGES.NO_IMAGE);
      return;
    }
    await answerImages({
      images,
      log: base,
      requestId: (i) => (i === 0 ? requestId : newRequestId()),
      cancelled: deps.stopping,
      toError: platformError,
      answer: (job) =>
        postAnswer(
          { file: job.image, target, team: teamId, user: ev.user, requestId: job.requestId, log: job.log },
          deps,
        ),
      replyError: (text) => inThread(text),
    });
  } catch (err) {
    await reportFailure(err, { log: rlog, post: inThread, toError: platformError });
  }
}
