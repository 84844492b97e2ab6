/**
 * `/reindex`: admins only; an ephemeral deferred reply edited with throttled progress, then the
 * summary. Interaction tokens expire after 15 minutes: once an edit says so, the progress edits
 * stop and the final text is posted in the interaction's channel instead. A run that would remove
 * most of the catalog is refused by the catalog; the reply then shows its sentence with a
 * "Remove N items and reindex" and a "Cancel" button (see reindex-confirm.ts).
 */
import { createProgressThrottle, newRequestId, type ReindexOutcome, runReindex } from '@lookalike/chat';
import type { Logger } from '@lookalike/core';
import { MessageFlags, PermissionFlagsBits, RESTJSONErrorCodes } from 'discord.js';
import { safeErr } from '../errors.js';
import { renderConfirmButtons, renderMassRemoval, renderProgress, renderSummary } from '../render.js';
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
  await reindexInReply(interaction, deps, rlog, false);
}

/**
 * Runs the reindex, editing the interaction's reply (already deferred or updated) with throttled
 * progress and the final text; a refusal for mass removal becomes the confirmation buttons. Never throws.
 * @param allowRemovals the admin confirmed a mass removal
 * @param maxRemovals with allowRemovals, the count the admin confirmed: a run that would remove
 *   more is refused again (new buttons with the new count). @defaultValue no cap
 */
export async function reindexInReply(
  interaction: ReindexCommandInteraction,
  deps: DiscordDeps,
  rlog: Logger,
  allowRemovals: boolean,
  maxRemovals?: number,
): Promise<ReindexOutcome> {
  /** Set by the first edit that fails with an expired token: no more edits go out after it. */
  let expired = false;
  const onWriteError = (err: unknown) => {
    if (isExpiredInteractionToken(err)) {
      expired = true;
      rlog.info({ code: (err as { code: unknown }).code }, 'interaction token expired; the result goes to the channel');
    } else {
      rlog.warn({ err: safeErr(err) }, 'reindex progress edit failed');
    }
  };
  const throttle = createProgressThrottle({
    intervalMs: deps.settings.progressIntervalMs,
    write: async (content) => {
      if (!expired) await interaction.editReply({ content });
    },
    onWriteError,
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  });
  const outcome = await runReindex({
    service: deps.service,
    log: rlog,
    throttle,
    allowRemovals,
    maxRemovals,
    texts: {
      progress: renderProgress,
      summary: renderSummary,
      inProgress: (e, progress) =>
        progress === null ? e.userMessage : `${e.userMessage}\n${renderProgress(progress)}`,
      failed: (e) => e.userMessage,
      needsConfirmation: (e) => renderMassRemoval(e.userMessage),
    },
  });
  if (outcome.kind === 'needs-confirmation' && !expired) {
    try {
      await interaction.editReply({
        content: outcome.text,
        components: renderConfirmButtons(interaction.user.id, outcome.removal),
      });
    } catch (err) {
      onWriteError(err);
    }
  }
  // Without a working token the buttons cannot be shown: the sentence goes to the channel, and
  // the admin confirms with a new /reindex.
  if (expired) await postInChannel(interaction, outcome.text, rlog);
  return outcome;
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
