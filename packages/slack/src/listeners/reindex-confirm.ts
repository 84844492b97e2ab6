/**
 * The buttons under a /reindex refused for mass removal (block_actions). Each button's value is
 * the asking admin's user id and the count N shown, so a press is understood after a restart.
 * Only that admin may press (anyone else gets a private sentence and nothing runs); admin rights
 * are checked again; "Remove N items and reindex" runs the reindex with `allowRemovals` and
 * `maxRemovals: N` in the same message (more files gone since the refusal: refused again, with
 * new buttons and the new count); "Cancel" says nothing was changed. A value without a count
 * (older buttons) runs a plain reindex, which asks again.
 */
import { newRequestId, reportFailure } from '@lookalike/chat';
import { asLookalikeError, USER_MESSAGES } from '@lookalike/core';
import { REINDEX_NOT_YOURS_TEXT, renderProgress, renderReindexCancelled } from '../render.js';
import { isReindexAdmin, reindexInMessage, runningText } from './reindex-command.js';
import type { ReindexButtonEvent, SlackDeps } from './types.js';

export async function onReindexButton({ press, respond }: ReindexButtonEvent, deps: SlackDeps): Promise<void> {
  const requestId = newRequestId();
  const { user, channel, ts, asker, action, maxRemovals } = press;
  const rlog = deps.log.child({
    requestId,
    command: '/reindex',
    button: action,
    channel,
    user,
    askedBy: asker,
    maxRemovals: maxRemovals ?? null,
  });
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
    // A button from before the count was in its value confirms no number: the run asks again.
    const allowRemovals = maxRemovals !== undefined;
    if (allowRemovals) rlog.info({}, 'mass removal confirmed; reindex started');
    else rlog.info({}, 'reindex button without a count; reindexing without removals allowed');
    let shown: string | undefined = ts;
    try {
      // Takes the buttons away; progress updates follow in the same message.
      await deps.api.updateMessage({ channel, ts, text: renderProgress(null, user), blocks: [] });
    } catch (err) {
      rlog.warn({ err: asLookalikeError(err) }, 'chat.update failed; answering ephemerally');
      shown = undefined;
    }
    await reindexInMessage({ channel, ts: shown, user, respond, allowRemovals, maxRemovals }, deps, rlog);
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond });
  }
}
