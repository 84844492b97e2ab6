/**
 * Leave-one-out precision@k by articleType over an indexed catalog.
 */
import type { WeightsInfo } from '@lookalike/core';
import type { Catalog } from './types.js';

export interface EvalOptions {
  /** @defaultValue 5 */
  k?: number;
  /** The metadata field whose equality counts as a hit. @defaultValue 'articleType' */
  field?: string;
}

export interface EvalClassResult {
  value: string;
  /** Items carrying this value. */
  members: number;
  /** Items used as queries (members, when members > k). */
  queries: number;
  precision: number;
}

export interface EvalResult {
  k: number;
  field: string;
  /** Number of queries: items whose class has more than k members. */
  queries: number;
  /** Mean precision@k over all queries. */
  precision: number;
  /** Per class, most queries first. */
  perClass: EvalClassResult[];
  /** Items without a value for `field` (never queries, never hits). */
  unlabelled: number;
  weights: WeightsInfo;
}

/**
 * For every item whose class (`field`, articleType by default) has more than `k` members,
 * searches the catalog with the item's own stored vector, leaves the item itself out, and
 * counts how many of the top k share its class. Exact duplicates of the query other than the
 * item itself stay in (they are other catalog items).
 */
export function evaluateCatalog(catalog: Catalog, options: EvalOptions = {}): EvalResult {
  const k = options.k ?? 5;
  const field = options.field ?? 'articleType';
  if (!Number.isInteger(k) || k < 1) throw new RangeError('k must be a positive integer');
  const items = catalog.items();
  const members = new Map<string, number>();
  let unlabelled = 0;
  for (const it of items) {
    const v = it.metadata[field];
    if (v === undefined || v === '') unlabelled++;
    else members.set(v, (members.get(v) ?? 0) + 1);
  }
  const hits = new Map<string, { queries: number; hits: number }>();
  let totalQueries = 0;
  let totalHits = 0;
  for (const it of items) {
    const cls = it.metadata[field];
    if (cls === undefined || cls === '' || (members.get(cls) ?? 0) <= k) continue;
    const vector = catalog.vectorOf(it.id);
    if (vector === undefined) continue;
    const results = catalog
      .search(vector, { k: k + 1, excludeDuplicates: false })
      .filter((r) => r.id !== it.id)
      .slice(0, k);
    const h = results.filter((r) => r.metadata[field] === cls).length;
    const entry = hits.get(cls) ?? { queries: 0, hits: 0 };
    entry.queries++;
    entry.hits += h / k;
    hits.set(cls, entry);
    totalQueries++;
    totalHits += h / k;
  }
  const perClass: EvalClassResult[] = [...members.entries()]
    .map(([value, n]) => {
      const e = hits.get(value);
      return { value, members: n, queries: e?.queries ?? 0, precision: e === undefined ? 0 : e.hits / e.queries };
    })
    .filter((c) => c.queries > 0)
    .sort((a, b) => b.queries - a.queries || (a.value < b.value ? -1 : 1));
  return {
    k,
    field,
    queries: totalQueries,
    precision: totalQueries === 0 ? 0 : totalHits / totalQueries,
    perClass,
    unlabelled,
    weights: catalog.weights,
  };
}
