/**
 * Parses the text of `/similar [gender] [category]` into exact-match metadata filters.
 * Accepts "women shirts", "gender=Women category=Shirts", `category="Casual Shoes"`.
 */
import type { Facets, MetadataFilters } from '@lookalike/core';

export interface ParsedSimilarArgs {
  filters: MetadataFilters;
  /** Words that matched no gender or category. */
  unknown: string[];
}

const GENDER_ALIASES: Readonly<Record<string, string>> = {
  man: 'men',
  male: 'men',
  woman: 'women',
  female: 'women',
  boy: 'boys',
  girl: 'girls',
};
const GENDER_KEYS = new Set(['gender', 'g']);
const CATEGORY_KEYS = new Set(['category', 'cat', 'type', 'articletype', 'article']);

/** Compares loosely: case, punctuation and a plural "s" are ignored ("t-shirt" ≈ "Tshirts"). */
function norm(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .replace(/s$/, '');
}

function pick(
  value: string,
  choices: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const lower = value.toLowerCase();
  const wanted = norm(aliases[lower] ?? lower);
  return choices.find((c) => norm(c) === wanted);
}

function tokenize(text: string): { key: string | undefined; value: string }[] {
  const out: { key: string | undefined; value: string }[] = [];
  const re = /([A-Za-z]+)=(?:"([^"]*)"|(\S+))|"([^"]*)"|(\S+)/g;
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined) out.push({ key: m[1].toLowerCase(), value: m[2] ?? m[3] ?? '' });
    else out.push({ key: undefined, value: m[4] ?? m[5] ?? '' });
  }
  return out.filter((t) => t.value.trim().length > 0);
}

/**
 * Maps each word to a gender or an articleType known to the catalog (case-insensitive).
 * Several consecutive words may form one category ("casual shoes").
 * When the catalog has no facets yet, values are passed through as typed.
 */
export function parseSimilarArgs(text: string, facets: Facets): ParsedSimilarArgs {
  const filters: Record<string, string> = {};
  const unknown: string[] = [];
  const tokens = tokenize(text);
  const noFacets = facets.genders.length === 0 && facets.articleTypes.length === 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i]!;
    if (token.key !== undefined) {
      if (GENDER_KEYS.has(token.key)) {
        const g = noFacets ? token.value : pick(token.value, facets.genders, GENDER_ALIASES);
        if (g === undefined) unknown.push(token.value);
        else filters.gender = g;
      } else if (CATEGORY_KEYS.has(token.key)) {
        const c = noFacets ? token.value : pick(token.value, facets.articleTypes);
        if (c === undefined) unknown.push(token.value);
        else filters.articleType = c;
      } else {
        unknown.push(`${token.key}=${token.value}`);
      }
      continue;
    }
    const gender = pick(token.value, facets.genders, GENDER_ALIASES);
    if (gender !== undefined && filters.gender === undefined) {
      filters.gender = gender;
      continue;
    }
    // Longest run of bare words that names a category.
    let matched = false;
    for (let j = tokens.length; j > i; j -= 1) {
      const run = tokens.slice(i, j);
      if (run.some((t) => t.key !== undefined)) continue;
      const c = pick(run.map((t) => t.value).join(' '), facets.articleTypes);
      if (c !== undefined) {
        filters.articleType = c;
        i = j - 1;
        matched = true;
        break;
      }
    }
    if (!matched) unknown.push(token.value);
  }
  return { filters, unknown };
}
