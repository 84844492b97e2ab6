/** INTERACTION_CREATE: routes each interaction to its listener by kind and command name. */
import { COMMAND_NAMES } from '../commands.js';
import { parseMoreButtonId } from '../more-chain.js';
import { onAutocomplete } from './autocomplete.js';
import { onFindSimilar } from './find-similar.js';
import { onMoreButton } from './more-like-this.js';
import { onReindexCommand } from './reindex-command.js';
import { onReindexButton } from './reindex-confirm.js';
import { onSimilarCommand } from './similar-command.js';
import type { DiscordDeps, IncomingInteraction } from './types.js';

/** Other interactions (other components, unknown commands…) are ignored. */
export async function onInteractionCreate(interaction: IncomingInteraction, deps: DiscordDeps): Promise<void> {
  if (interaction.isAutocomplete()) return onAutocomplete(interaction, deps);
  if (interaction.isChatInputCommand()) {
    if (interaction.commandName === COMMAND_NAMES.similar) return onSimilarCommand(interaction, deps);
    if (interaction.commandName === COMMAND_NAMES.reindex) return onReindexCommand(interaction, deps);
    return;
  }
  if (interaction.isMessageContextMenuCommand() && interaction.commandName === COMMAND_NAMES.findSimilar) {
    return onFindSimilar(interaction, deps);
  }
  if (interaction.isButton()) {
    if (parseMoreButtonId(interaction.customId) !== undefined) return onMoreButton(interaction, deps);
    return onReindexButton(interaction, deps);
  }
}
