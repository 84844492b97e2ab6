/**
 * One answer on Slack: the service downloads and searches, then the collage is uploaded and the
 * result list posted (in a thread when the target has one).
 */
import type { Answer, Logger, MetadataFilters } from '@lookalike/core';
import { imageRefOf, type SlackFile } from './files.js';
import type { SlackDeps } from './listeners/types.js';
import { renderAnswer } from './render.js';

/** Where an answer goes. */
export interface Target {
  channel: string;
  threadTs?: string | undefined;
}

export interface AnswerRequest {
  file: SlackFile;
  target: Target;
  team: string | undefined;
  user: string;
  requestId: string;
  log: Logger;
  filters?: MetadataFilters | undefined;
  /** The heading above the results. @defaultValue 'Closest matches in the catalog' */
  intro?: string | undefined;
}

/** The feedback key of a Slack message: `<channel>:<ts>`. */
export const answerKey = (channel: string, ts: string) => `${channel}:${ts}`;

/**
 * Tells the feedback recorder (`deps.feedback`) that `answer` was posted as `<channel>:<ts>`, so a
 * 👍/👎 on that message counts for its results. Never throws.
 */
export async function recordAnswered(
  deps: Pick<SlackDeps, 'feedback'>,
  channel: string,
  ts: string | undefined,
  answer: Pick<Answer, 'requestId' | 'results'>,
): Promise<void> {
  if (deps.feedback === undefined || !deps.feedback.enabled || ts === undefined) return;
  try {
    await deps.feedback.answered({
      surface: 'slack',
      messageKey: answerKey(channel, ts),
      requestId: answer.requestId,
      resultIds: answer.results.map((r) => r.id),
    });
  } catch {
    // The recorder logs its own failures; an answer is never lost to feedback.
  }
}

/** The rate-limit identity of a Slack user. */
export const slackUserId = (team: string | undefined, user: string) => `slack:${team ?? '-'}:${user}`;

/**
 * Answers one image.
 * @throws LookalikeError from the service (RATE_LIMITED, BUSY, FETCH_NOT_IMAGE…) or the Web API
 */
export async function postAnswer(request: AnswerRequest, deps: SlackDeps): Promise<void> {
  const { target, requestId, filters } = request;
  const started = Date.now();
  const answer = await deps.service.findSimilar(imageRefOf(request.file, deps.api.downloadHeaders()), {
    userId: slackUserId(request.team, request.user),
    requestId,
    surface: 'slack',
    ...(filters === undefined || Object.keys(filters).length === 0 ? {} : { filters }),
  });
  const intro = request.intro ?? 'Closest matches in the catalog';
  await deps.api.uploadFile({
    channel: target.channel,
    threadTs: target.threadTs,
    bytes: answer.collage,
    filename: `lookalike-${requestId.slice(0, 8)}.jpg`,
    title: 'Lookalikes',
    comment: intro,
  });
  const { text, blocks } = renderAnswer(answer, intro);
  const posted = await deps.api.postMessage({ channel: target.channel, threadTs: target.threadTs, text, blocks });
  await recordAnswered(deps, target.channel, posted.ts, answer);
  request.log.info(
    { results: answer.results.length, notices: answer.notices.map((n) => n.code), ms: Date.now() - started },
    'answered',
  );
}
