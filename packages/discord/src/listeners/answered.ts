/**
 * Records a posted answer for feedback (`deps.feedback`), keyed by the message Discord created,
 * so a later 👍/👎 on that message counts for the answer's results. Never throws.
 */
import type { Answer } from '@lookalike/core';
import type { DiscordDeps } from './types.js';

/** The id of what `message.reply()` / `interaction.editReply()` resolved with, when it has one. */
export function sentMessageId(sent: unknown): string | undefined {
  const id = (sent as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** Tells the feedback recorder that `answer` was posted as the message `sent`. */
export async function recordAnswered(
  deps: Pick<DiscordDeps, 'feedback'>,
  sent: unknown,
  answer: Pick<Answer, 'requestId' | 'results'>,
): Promise<void> {
  const messageKey = sentMessageId(sent);
  if (deps.feedback === undefined || !deps.feedback.enabled || messageKey === undefined) return;
  try {
    await deps.feedback.answered({
      surface: 'discord',
      messageKey,
      requestId: answer.requestId,
      resultIds: answer.results.map((r) => r.id),
    });
  } catch {
    // The recorder logs its own failures; an answer is never lost to feedback.
  }
}
