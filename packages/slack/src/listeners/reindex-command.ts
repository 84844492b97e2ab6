/**
 * `/reindex`: listed users and workspace admins only. Posts a message in the channel, updates it
 * with throttled progress, and ends with the summary. A run that would remove most of the catalog
 * is refused by the catalog: the message then shows its sentence with a "Remove N items and
 * reindex" and a "Cancel" button (see reindex-confirm.ts).
 */
import { createProgressThrottle, newRequestId, reportFailure, runReindex, systemClock } from '@lookalike/chat';
import { asLookalikeError, type Logger, type ReindexProgress, USER_MESSAGES } from '@lookalike/core';
import { renderMassRemoval, renderProgress, renderSummary } from '../render.js';
import type { Respond, SlackDeps, SlackState, SlashCommandEvent } from './types.js';

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

/** Said privately when the refusal cannot carry buttons (the bot could not post in the channel). */
export const CONFIRM_NEEDS_CHANNEL =
  'To confirm, invite me to a channel and run /reindex there: the confirm button goes on my message.';

export async function onReindexCommand({ command, respond }: SlashCommandEvent, deps: SlackDeps): Promise<void> {
  const { channel_id: channel, user_id: user } = command;
  const requestId = newRequestId();
  const rlog = deps.log.child({ requestId, command: '/reindex', channel, user });
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
    await reindexInMessage({ channel, ts, user, respond, allowRemovals: false }, deps, rlog);
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond });
  }
}

export interface ReindexInMessage {
  channel: string;
  /** The message that shows progress (already posted), or undefined: the result goes to `respond`. */
  ts: string | undefined;
  /** The admin who asked (named in the progress, and the only one who may confirm). */
  user: string;
  respond: Respond;
  /** The admin confirmed a mass removal. */
  allowRemovals: boolean;
  /**
   * With allowRemovals: the count the admin confirmed; a run that would remove more is refused
   * again (the message shows new buttons with the new count). @defaultValue no cap
   */
  maxRemovals?: number | undefined;
}

/**
 * Runs the reindex, updating the message with throttled progress and the final text; a refusal for
 * mass removal turns the message into the confirmation with its buttons.
 */
export async function reindexInMessage(run: ReindexInMessage, deps: SlackDeps, rlog: Logger): Promise<void> {
  const { channel, ts: shown, user } = run;
  const clock = deps.clock ?? systemClock;
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
      allowRemovals: run.allowRemovals,
      maxRemovals: run.maxRemovals,
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
        needsConfirmation: (e) => `:warning: ${e.userMessage}`,
      },
    });
    if (outcome.kind === 'needs-confirmation') {
      if (shown === undefined) {
        await run.respond(`${outcome.text}\n${CONFIRM_NEEDS_CHANNEL}`);
        return;
      }
      const confirmation = renderMassRemoval(outcome.error.userMessage, user, outcome.removal);
      try {
        await deps.api.updateMessage({ channel, ts: shown, ...confirmation });
      } catch (err) {
        rlog.warn({ err: asLookalikeError(err) }, 'chat.update failed; the confirmation goes privately');
        await run.respond(`${outcome.text}\n${CONFIRM_NEEDS_CHANNEL}`);
      }
      return;
    }
    if (throttle === undefined) await run.respond(outcome.text);
  } finally {
    if (deps.state.runningReindex?.ts === shown) deps.state.runningReindex = undefined;
  }
}
