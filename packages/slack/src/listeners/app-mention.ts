/** `app_mention`: a mention with a photo is answered (once, with its file_share); without one, NO_IMAGE. */
import { answerShare } from './share.js';
import type { ShareEvent, SlackDeps, SlackEvent } from './types.js';

export async function onAppMention({ event, context }: SlackEvent<ShareEvent>, deps: SlackDeps): Promise<void> {
  if (event.user === undefined || event.bot_id !== undefined || event.user === context.botUserId) return;
  await answerShare({ ...event, user: event.user }, context.teamId, 'app_mention', deps);
}
