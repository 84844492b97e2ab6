/**
 * The buttons under a /reindex refused for mass removal. Everything a press needs is in its
 * custom_id (the action, the asking admin's id and the count N shown), so it works after a
 * restart. Only that admin may press (anyone else gets a private sentence and nothing runs); admin
 * rights are checked again; "Remove N items and reindex" runs the reindex with `allowRemovals` and
 * `maxRemovals: N`, editing the same message with progress and the summary (more files gone since
 * the refusal: refused again, with new buttons and the new count); "Cancel" says nothing was
 * changed. A confirm id without a count (older buttons) runs a plain reindex, which asks again.
 */
import { newRequestId } from '@lookalike/chat';
import { MessageFlags } from 'discord.js';
import { parseReindexButtonId } from '../commands.js';
import { safeErr } from '../errors.js';
import { REINDEX_CANCELLED_TEXT, REINDEX_CONFIRMED_TEXT, REINDEX_NOT_YOURS_TEXT } from '../render.js';
import { isReindexAdmin, reindexInReply } from './reindex-command.js';
import { ephemeralError } from './replies.js';
import type { DiscordDeps, ReindexButtonInteraction } from './types.js';

/** Handles a press of a /reindex button; other buttons are left alone. Never throws. */
export async function onReindexButton(interaction: ReindexButtonInteraction, deps: DiscordDeps): Promise<void> {
  const parsed = parseReindexButtonId(interaction.customId);
  if (parsed === undefined) return;
  const requestId = newRequestId();
  const presser = interaction.user.id;
  const rlog = deps.log.child({
    requestId,
    interactionId: interaction.id,
    command: 'reindex',
    button: parsed.action,
    askedBy: parsed.userId,
    maxRemovals: parsed.maxRemovals ?? null,
  });
  if (presser !== parsed.userId) {
    rlog.info({ userId: presser }, 'reindex button refused: not the admin who asked');
    try {
      await interaction.reply({ content: REINDEX_NOT_YOURS_TEXT, flags: MessageFlags.Ephemeral });
    } catch (err) {
      rlog.error({ err: safeErr(err) }, 'error reply failed');
    }
    return;
  }
  if (!isReindexAdmin(interaction, deps.settings.adminRoleIds)) {
    rlog.info({ userId: presser }, 'reindex button refused: no longer an admin');
    await ephemeralError(interaction, 'FORBIDDEN', requestId, rlog);
    return;
  }
  const text = parsed.action === 'cancel' ? REINDEX_CANCELLED_TEXT : REINDEX_CONFIRMED_TEXT;
  try {
    // Type 7: edits the message the buttons are on, and takes the buttons away.
    await interaction.update({ content: text, components: [] });
  } catch (err) {
    rlog.error({ err: safeErr(err) }, 'could not answer the button press');
    return;
  }
  if (parsed.action === 'cancel') {
    rlog.info({ userId: presser }, 'reindex cancelled by the admin');
    return;
  }
  if (parsed.maxRemovals === undefined) {
    // A button from before the count was in its id: it confirms no number, so the run asks again.
    rlog.info({ userId: presser }, 'reindex button without a count; reindexing without removals allowed');
    await reindexInReply(interaction, deps, rlog, false);
    return;
  }
  rlog.info({ userId: presser }, 'mass removal confirmed; reindex started');
  await reindexInReply(interaction, deps, rlog, true, parsed.maxRemovals);
}
