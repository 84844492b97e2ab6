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
  /** The claim this call holds, once it holds one. */
  let claimed: string | undefined;
  try {
    const candidates = candidateFiles(ev.files);
    // A plain share of a PDF is none of our business (a mention of the same message may still ask).
    if (source === 'file_share' && candidates.length === 0) return;
    const key = shareKey(ev);
    if (!(await deps.claims.claim(key))) {
      rlog.debug({}, 'share already answered');
      return;
    }
    claimed = key;
    const images = await imagesAmong(candidates, MAX_IMAGES_PER_MESSAGE, deps.api.fileInfo);
    if (images.length === 0) {
      if (source === 'app_mention') await inThread(USER_MESSAGES.NO_IMAGE);
    } else {
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
    }
    await settle(deps, claimed, 'done', rlog);
  } catch (err) {
    // Nothing (or not everything) reached the person: free the claim so Slack's retry is answered.
    await settle(deps, claimed, 'failed', rlog);
    await reportFailure(err, { log: rlog, post: inThread, toError: platformError });
  }
}

/** The claim key of a share: one message, whichever event (and replica) brings it. */
export const shareKey = (ev: Pick<ShareEvent, 'channel' | 'ts'>) => `slack:${ev.channel}:${ev.ts}`;

/** Marks a claim done or failed; a claims store that fails here is logged, never thrown. */
async function settle(
  deps: SlackDeps,
  key: string | undefined,
  how: 'done' | 'failed',
  log: SlackDeps['log'],
): Promise<void> {
  if (key === undefined) return;
  try {
    await deps.claims[how](key);
  } catch (err) {
    log.warn({ err, how }, 'could not record the share claim');
  }
}
