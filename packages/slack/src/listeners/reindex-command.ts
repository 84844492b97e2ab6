/**
 * `/reindex`: listed users and workspace admins only. Posts a message in the channel, updates it
 * with throttled progress, and ends with the summary.
 */
import { createProgressThrottle, newRequestId, reportFailure, runReindex, systemClock } from '@lookalike/chat';
import { asLookalikeError, type Logger, type ReindexProgress, USER_MESSAGES } from '@lookalike/core';
import { renderProgress, renderSummary } from '../render.js';
import type { SlackDeps, SlackState, SlashCommandEvent } from './types.js';

/** A listed admin, or a workspace admin or owner (users.info). A failed lookup counts as no. */
export async function isReindexAdmin(user: string, deps: SlackDeps, log: Logger): Promise<boolean> {
  if (deps.settings.adminUserIds.includes(user)) return true;
  try {
    return await deps.api.isWorkspaceAdmin(user);
  } catch (err) {
    log.warn({ err: asLookalikeError(err) }, 'users.info failed; treating the user as not an admin');
    return false;
  }
}

/** "A reindex is already running. Progress is shown in #channel." and its progress bar. */
export function runningText(progress: ReindexProgress | null, state: SlackState): string {
  const running = state.runningReindex;
  const where = running === undefined ? '' : ` Progress is shown in <#${running.channel}>.`;
  return `${USER_MESSAGES.REINDEX_IN_PROGRESS}${where}\n${renderProgress(progress)}`;
}

export async function onReindexCommand({ command, respond }: SlashCommandEvent, deps: SlackDeps): Promise<void> {
  const { channel_id: channel, user_id: user } = command;
  const requestId = newRequestId();
  const rlog = deps.log.child({ requestId, command: '/reindex', channel, user });
  const clock = deps.clock ?? systemClock;
  try {
    if (!(await isReindexAdmin(user, deps, rlog))) {
      rlog.info({}, 'reindex refused: not an admin');
      await respond(USER_MESSAGES.FORBIDDEN);
      return;
    }
    const status = deps.service.status();
    if (status.reindexing) {
      await respond(runningText(status.reindexProgress, deps.state));
      return;
    }
    let ts: string | undefined;
    try {
      ts = (await deps.api.postMessage({ channel, text: renderProgress(null, user) })).ts;
    } catch (err) {
      rlog.warn({ err: asLookalikeError(err) }, 'cannot post in the channel; answering ephemerally');
      await respond('Reindex started. I will tell you here when it is done.');
    }
    const shown = ts;
    const throttle =
      shown === undefined
        ? undefined
        : createProgressThrottle({
            intervalMs: deps.settings.progressIntervalMs,
            // The posted message counts as the first write.
            lastWriteAt: clock.now(),
            clock,
            write: (text) => deps.api.updateMessage({ channel, ts: shown, text }),
            onWriteError: (err) => rlog.warn({ err: asLookalikeError(err) }, 'chat.update failed'),
          });
    try {
      const outcome = await runReindex({
        service: deps.service,
        log: rlog,
        throttle,
        // Only a run that really started points others at this message: when another reindex
        // is already running, the service refuses this one before any progress.
        onProgress: () => {
          if (shown !== undefined) deps.state.runningReindex = { channel, ts: shown };
        },
        texts: {
          progress: (p) => renderProgress(p, user),
          summary: renderSummary,
          inProgress: (_e, p) => runningText(p ?? deps.service.status().reindexProgress, deps.state),
          failed: (e) => `:x: ${e.userMessage}`,
        },
      });
      if (throttle === undefined) await respond(outcome.text);
    } finally {
      if (deps.state.runningReindex?.ts === shown) deps.state.runningReindex = undefined;
    }
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond });
  }
}
