/**
 * A press of a result's "More like this" button: the button's value names the item, the filters
 * and the chain shown so far (no server memory, so it works after a restart). The press is acked
 * at once (by the bot), then the answer is posted in the same thread: the collage, then the
 * result list with its own buttons. No download, no embedding: the service searches with the
 * item's stored vector. A malformed value or a failure is told privately to the presser.
 */
import { newRequestId, reportFailure } from '@lookalike/chat';
import { type MoreRequest, USER_MESSAGES } from '@lookalike/core';
import { answerKey, recordAnswered, slackUserId } from '../answer.js';
import { platformError } from '../errors.js';
import { parseMoreButtonValue } from '../more-value.js';
import { renderAnswer } from '../render.js';
import type { MoreButtonEvent, MoreButtonPress, SlackDeps } from './types.js';

/** The heading above a "more like this" answer. */
export const MORE_INTRO = 'More like this';

export async function onMoreButton({ press, respond }: MoreButtonEvent, deps: SlackDeps): Promise<void> {
  const requestId = newRequestId();
  const base = deps.log.child({ requestId, command: 'more', channel: press.channel, ts: press.ts, user: press.user });
  let request: MoreRequest;
  try {
    request = parseMoreButtonValue(press.value);
  } catch (err) {
    base.info({ code: 'BAD_REQUEST', reason: (err as Error).message }, 'more like this press refused');
    await respond(USER_MESSAGES.BAD_REQUEST).catch((e: unknown) => base.warn({ err: e }, 'could not answer the press'));
    return;
  }
  const rlog = base.child({ itemId: request.itemId });
  try {
    const started = Date.now();
    const answer = await deps.service.moreLikeThis(request.itemId, {
      userId: slackUserId(press.team, press.user),
      requestId,
      surface: 'slack',
      exclude: request.exclude,
      ...(request.filters === undefined ? {} : { filters: request.filters }),
    });
    await deps.api.uploadFile({
      channel: press.channel,
      threadTs: press.threadTs,
      bytes: answer.collage,
      filename: `lookalike-${requestId.slice(0, 8)}.jpg`,
      title: 'Lookalikes',
      comment: MORE_INTRO,
    });
    const { text, blocks } = renderAnswer(answer, MORE_INTRO);
    const posted = await deps.api.postMessage({ channel: press.channel, threadTs: press.threadTs, text, blocks });
    await recordAnswered(deps, press.channel, posted.ts, answer);
    await recordPress(deps, press, request.itemId, rlog);
    rlog.info(
      { results: answer.results.length, notices: answer.notices.map((n) => n.code), ms: Date.now() - started },
      'answered more like this',
    );
  } catch (err) {
    await reportFailure(err, { log: rlog, message: 'more like this failed', post: respond, toError: platformError });
  }
}

/** Records the press for feedback against the answer it was on. Never throws. */
async function recordPress(
  deps: Pick<SlackDeps, 'feedback'>,
  press: MoreButtonPress,
  itemId: string,
  log: SlackDeps['log'],
): Promise<void> {
  if (deps.feedback === undefined || !deps.feedback.enabled) return;
  try {
    await deps.feedback.record({
      kind: 'more',
      surface: 'slack',
      messageKey: answerKey(press.channel, press.ts),
      itemId,
      userId: slackUserId(press.team, press.user),
    });
  } catch (err) {
    log.warn({ err }, 'could not record the press');
  }
}
