/** Autocomplete of `/similar`'s category option: the catalog's article types. */
import { safeErr } from '../errors.js';
import type { AutocompleteChoice, AutocompleteInteraction, DiscordDeps } from './types.js';

/** Discord shows at most 25 choices, each at most 100 characters. */
const MAX_CHOICES = 25;
const MAX_CHOICE_LENGTH = 100;

/** Article types that start with what was typed first, then those that contain it. */
export function categoryChoices(articleTypes: readonly string[], typed: string): AutocompleteChoice[] {
  const t = typed.trim().toLowerCase();
  const starts = articleTypes.filter((a) => a.toLowerCase().startsWith(t));
  const contains = t === '' ? [] : articleTypes.filter((a) => !starts.includes(a) && a.toLowerCase().includes(t));
  return [...starts, ...contains]
    .filter((a) => a.length <= MAX_CHOICE_LENGTH)
    .slice(0, MAX_CHOICES)
    .map((a) => ({ name: a, value: a }));
}

export async function onAutocomplete(interaction: AutocompleteInteraction, deps: DiscordDeps): Promise<void> {
  const focused = interaction.options.getFocused(true);
  const choices =
    focused.name === 'category' ? categoryChoices(deps.service.facets().articleTypes, String(focused.value)) : [];
  await interaction
    .respond(choices)
    .catch((err: unknown) =>
      deps.log.debug({ err: safeErr(err), interactionId: interaction.id }, 'autocomplete respond failed'),
    );
}
