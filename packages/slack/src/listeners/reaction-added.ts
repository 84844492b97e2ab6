/**
 * `reaction_added`: a 👍 (`+1`, `thumbsup`) or 👎 (`-1`, `thumbsdown`), any skin tone, on one of
 * the bot's answer messages is recorded as feedback (with a salted hash of the user id). Other
 * reactions, reactions on files or on other messages are ignored. Needs the reactions:read
 * scope and the reaction_added event subscription (apps/slack-bot/manifest.yaml).
 */
import { answerKey, slackUserId } from '../answer.js';
import type { EventContext, SlackDeps } from './types.js';

/** The fields of a reaction_added event the listener reads. */
export interface ReactionAddedEvent {
  user?: string | undefined;
  reaction: string;
  item: { type: string; channel?: string | undefined; ts?: string | undefined };
}

/** 'up' for +1 / thumbsup, 'down' for -1 / thumbsdown (with or without `::skin-tone-N`), else undefined. */
export function voteOfReaction(reaction: string): 'up' | 'down' | undefined {
  const base = reaction.split('::')[0];
  if (base === '+1' || base === 'thumbsup') return 'up';
  if (base === '-1' || base === 'thumbsdown') return 'down';
  return undefined;
}

export async function onReactionAdded(
  { event, context }: { event: ReactionAddedEvent; context: EventContext },
  deps: Pick<SlackDeps, 'feedback' | 'log'>,
): Promise<void> {
  const feedback = deps.feedback;
  if (feedback === undefined || !feedback.enabled) return;
  const kind = voteOfReaction(event.reaction);
  const { channel, ts } = event.item;
  if (kind === undefined || event.item.type !== 'message' || channel === undefined || ts === undefined) return;
  if (event.user === undefined || event.user === context.botUserId) return;
  const recorded = await feedback.record({
    kind,
    surface: 'slack',
    messageKey: answerKey(channel, ts),
    userId: slackUserId(context.teamId, event.user),
  });
  if (recorded) deps.log.debug({ kind, channel, ts }, 'reaction recorded');
}
