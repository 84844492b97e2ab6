/**
 * `/reindex`: admins only; an ephemeral deferred reply edited with throttled progress, then the
 * summary. Interaction tokens expire after 15 minutes: once an edit says so, the progress edits
 * stop and the final text is posted in the interaction's channel instead.
 */
import { createProgressThrottle, newRequestId, runReindex } from '@lookalike/chat';
import type { Logger } from '@lookalike/core';
import { MessageFlags, PermissionFlagsBits, RESTJSONErrorCodes } from 'discord.js';
import { safeErr } from '../errors.js';
import { renderProgress, renderSummary } from '../render.js';
import { ephemeralError } from './replies.js';
import type { DiscordDeps, ReindexCommandInteraction } from './types.js';

/** Discord's answers to an edit through an interaction token that no longer works. */
const EXPIRED_TOKEN_CODES: readonly unknown[] = Object.freeze([
  RESTJSONErrorCodes.InvalidWebhookToken,
  RESTJSONErrorCodes.UnknownWebhook,
]);

/** True when `err` says the interaction's token expired (50027 Invalid Webhook Token, 10015 Unknown Webhook). */
export function isExpiredInteractionToken(err: unknown): boolean {
  return EXPIRED_TOKEN_CODES.includes((err as { code?: unknown } | null | undefined)?.code);
}

/** Manage Server, or one of the configured admin roles. */
export function isReindexAdmin(
  interaction: Pick<ReindexCommandInteraction, 'memberPermissions' | 'member'>,
  adminRoleIds: readonly string[],
): boolean {
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) === true) return true;
  const member = interaction.member;
  if (member === null || adminRoleIds.length === 0) return false;
  const roles = Array.isArray(member.roles)
    ? member.roles
    : [...(member.roles as { cache: { keys(): Iterable<string> } }).cache.keys()];
  return roles.some((r) => adminRoleIds.includes(r));
}

export async function onReindexCommand(interaction: ReindexCommandInteraction, deps: DiscordDeps): Promise<void> {
  const requestId = newRequestId();
  const rlog = deps.log.child({ requestId, interactionId: interaction.id, command: 'reindex' });
  if (!isReindexAdmin(interaction, deps.settings.adminRoleIds)) {
    rlog.info({ userId: interaction.user.id }, 'reindex denied');
    await ephemeralError(interaction, 'FORBIDDEN', requestId, rlog);
    return;
  }
  try {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  } catch (err) {
    rlog.error({ err: safeErr(err) }, 'deferReply failed');
    return;
  }
  rlog.info({ userId: interaction.user.id }, 'reindex started');
  /** Set by the first edit that fails with an expired token: no more edits go out after it. */
  let expired = false;
  const throttle = createProgressThrottle({
    intervalMs: deps.settings.progressIntervalMs,
    write: async (content) => {
      if (!expired) await interaction.editReply({ content });
    },
    onWriteError: (err) => {
      if (isExpiredInteractionToken(err)) {
        expired = true;
        rlog.info(
          { code: (err as { code: unknown }).code },
          'interaction token expired; the result goes to the channel',
        );
      } else {
        rlog.warn({ err: safeErr(err) }, 'reindex progress edit failed');
      }
    },
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  });
  const outcome = await runReindex({
    service: deps.service,
    log: rlog,
    throttle,
    texts: {
      progress: renderProgress,
      summary: renderSummary,
      inProgress: (e, progress) =>
        progress === null ? e.userMessage : `${e.userMessage}\n${renderProgress(progress)}`,
      failed: (e) => e.userMessage,
    },
  });
  if (expired) await postInChannel(interaction, outcome.text, rlog);
}

/** The final text as a channel message, pinging only the admin who asked. Never throws. */
async function postInChannel(interaction: ReindexCommandInteraction, text: string, log: Logger): Promise<void> {
  const channel = interaction.channel;
  if (channel?.send === undefined) {
    log.warn({ channelId: channel?.id ?? null }, 'reindex result lost: no channel to post it in');
    return;
  }
  try {
    await channel.send({
      content: `<@${interaction.user.id}> ${text}`,
      allowedMentions: { users: [interaction.user.id] },
    });
  } catch (err) {
    log.error({ err: safeErr(err), channelId: channel.id }, 'could not post the reindex result in the channel');
  }
}
