/** The "Find similar" message shortcut: the message's first image, answered in its thread. */
import { newRequestId, reportFailure } from '@lookalike/chat';
import { postAnswer } from '../answer.js';
import { platformError } from '../errors.js';
import { firstImage } from '../files.js';
import type { MessageShortcutEvent, SlackDeps } from './types.js';

export const NO_IMAGE_IN_MESSAGE = 'That message has no image I can search with. Try it on a message with a photo.';

export async function onFindSimilarShortcut(
  { shortcut, respond }: MessageShortcutEvent,
  deps: SlackDeps,
): Promise<void> {
  const requestId = newRequestId();
  const user = shortcut.user.id;
  const channel = shortcut.channel.id;
  const rlog = deps.log.child({ requestId, shortcut: 'find_similar', channel, user });
  try {
    const file = await firstImage(shortcut.message.files, deps.api.fileInfo);
    if (file === undefined) {
      await respond(NO_IMAGE_IN_MESSAGE);
      return;
    }
    await postAnswer(
      {
        file,
        target: { channel, threadTs: shortcut.message.thread_ts ?? shortcut.message.ts },
        team: shortcut.team?.id ?? shortcut.user.team_id,
        user,
        requestId,
        log: rlog,
        intro: `Lookalikes, as asked by <@${user}>`,
      },
      deps,
    );
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond, toError: platformError });
  }
}
