/**
 * The buttons under a /reindex refused for mass removal (block_actions). Each button's value is
 * the asking admin's user id, so a press is understood after a restart. Only that admin may press
 * (anyone else gets a private sentence and nothing runs); admin rights are checked again;
 * "Remove N items and reindex" runs the reindex with `allowRemovals` in the same message;
 * "Cancel" says nothing was changed.
 */
import { newRequestId, reportFailure } from '@lookalike/chat';
import { asLookalikeError, USER_MESSAGES } from '@lookalike/core';
import { REINDEX_NOT_YOURS_TEXT, renderProgress, renderReindexCancelled } from '../render.js';
import { isReindexAdmin, reindexInMessage, runningText } from './reindex-command.js';
import type { ReindexButtonEvent, SlackDeps } from './types.js';

export async function onReindexButton({ press, respond }: ReindexButtonEvent, deps: SlackDeps): Promise<void> {
  const requestId = newRequestId();
  const { user, channel, ts, asker, action } = press;
  const rlog = deps.log.child({ requestId, command: '/reindex', button: action, channel, user, askedBy: asker });
  try {
    if (user !== asker) {
      rlog.info({}, 'reindex button refused: not the admin who asked');
      await respond(REINDEX_NOT_YOURS_TEXT);
      return;
    }
    if (!(await isReindexAdmin(user, deps, rlog))) {
      rlog.info({}, 'reindex button refused: no longer an admin');
      await respond(USER_MESSAGES.FORBIDDEN);
      return;
    }
    if (action === 'cancel') {
      rlog.info({}, 'reindex cancelled by the admin');
      await deps.api.updateMessage({ channel, ts, text: renderReindexCancelled(user), blocks: [] });
      return;
    }
    const status = deps.service.status();
    if (status.reindexing) {
      await respond(runningText(status.reindexProgress, deps.state));
      return;
    }
    rlog.info({}, 'mass removal confirmed; reindex started');
    let shown: string | undefined = ts;
    try {
      // Takes the buttons away; progress updates follow in the same message.
      await deps.api.updateMessage({ channel, ts, text: renderProgress(null, user), blocks: [] });
    } catch (err) {
      rlog.warn({ err: asLookalikeError(err) }, 'chat.update failed; answering ephemerally');
      shown = undefined;
    }
    await reindexInMessage({ channel, ts: shown, user, respond, allowRemovals: true }, deps, rlog);
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond });
  }
}
