/**
 * `/similar [gender] [category]`: the invoking user's latest photo in the channel within the
 * history window, answered in the channel; anything else is answered privately.
 */
import { newRequestId, reportFailure, systemClock } from '@lookalike/chat';
import type { Facets } from '@lookalike/core';
import { postAnswer } from '../answer.js';
import type { SlackApi } from '../api.js';
import { parseSimilarArgs } from '../args.js';
import { platformError } from '../errors.js';
import { firstImage, type SlackFile } from '../files.js';
import { describeFilters } from '../render.js';
import type { SlackDeps, SlashCommandEvent } from './types.js';

/** Pages of conversations.history looked through (200 messages each). */
const MAX_HISTORY_PAGES = 5;

/** "24 hours", "hour", "30 minutes". */
function describeWindow(ms: number): string {
  const hours = Math.round(ms / 3_600_000);
  if (hours > 1) return `${hours} hours`;
  if (hours === 1) return 'hour';
  return `${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

export function noRecentImageText(windowMs: number): string {
  return `I didn't find a photo you shared in this channel in the last ${describeWindow(windowMs)}. Share one (or use the “Find similar” shortcut on a message with a photo), then run /similar again.`;
}

export function unknownWordsText(unknown: readonly string[], facets: Facets): string {
  return `I don't know ${unknown.map((u) => `“${u}”`).join(', ')}. Usage: /similar [gender] [category], e.g. /similar women shirts. Genders: ${facets.genders.slice(0, 6).join(', ')}. Categories include: ${facets.articleTypes.slice(0, 12).join(', ')}.`;
}

/** The user's most recent image in the channel since `oldestMs`. */
export async function findRecentImage(
  api: SlackApi,
  channel: string,
  user: string,
  oldestMs: number,
): Promise<SlackFile | undefined> {
  const oldest = String(oldestMs / 1000);
  let cursor: string | undefined;
  for (let page = 0; page < MAX_HISTORY_PAGES; page += 1) {
    const res = await api.history({ channel, oldest, cursor });
    for (const m of res.messages) {
      if (m.user !== user || m.bot_id !== undefined) continue;
      const file = await firstImage(m.files, api.fileInfo);
      if (file !== undefined) return file;
    }
    cursor = res.nextCursor;
    if (cursor === undefined) break;
  }
  return undefined;
}

export async function onSimilarCommand({ command, respond }: SlashCommandEvent, deps: SlackDeps): Promise<void> {
  const requestId = newRequestId();
  const rlog = deps.log.child({ requestId, command: '/similar', channel: command.channel_id, user: command.user_id });
  try {
    const facets = deps.service.facets();
    const { filters, unknown } = parseSimilarArgs(command.text ?? '', facets);
    if (unknown.length > 0) {
      await respond(unknownWordsText(unknown, facets));
      return;
    }
    const now = (deps.clock ?? systemClock).now();
    let file: SlackFile | undefined;
    try {
      file = await findRecentImage(deps.api, command.channel_id, command.user_id, now - deps.settings.historyWindowMs);
    } catch (err) {
      throw platformError(err);
    }
    if (file === undefined) {
      await respond(noRecentImageText(deps.settings.historyWindowMs));
      return;
    }
    const f = describeFilters(filters);
    await postAnswer(
      {
        file,
        target: { channel: command.channel_id },
        team: command.team_id,
        user: command.user_id,
        requestId,
        log: rlog,
        filters,
        intro: `Lookalikes for <@${command.user_id}>'s latest photo${f.length > 0 ? ` (${f})` : ''}`,
      },
      deps,
    );
  } catch (err) {
    await reportFailure(err, { log: rlog, post: respond, toError: platformError });
  }
}
