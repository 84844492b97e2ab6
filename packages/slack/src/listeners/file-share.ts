/** `message` events: only people's file shares (subtype file_share) are answered. */
import { answerShare } from './share.js';
import type { MessageEvent, SlackDeps, SlackEvent } from './types.js';

export async function onFileShare({ event, context }: SlackEvent<MessageEvent>, deps: SlackDeps): Promise<void> {
  if (event.subtype !== 'file_share') return;
  if (event.user === undefined || event.bot_id !== undefined || event.user === context.botUserId) return;
  await answerShare({ ...event, user: event.user }, context.teamId, 'file_share', deps);
}
