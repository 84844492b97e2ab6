/**
 * Top-k search over the live index: exact duplicates of the query left out, metadata filters,
 * and over-fetching (deeper each round) until k items pass or the index is exhausted.
 */
import type { ItemMetadata, MetadataFilters, SearchOptions, SimilarItem } from '@lookalike/core';
import type { SearchHit } from '@lookalike/index';

/** Squared-L2 distance under which a result counts as an exact duplicate of the query. */
export const DUPLICATE_DISTANCE = 1e-6;

/** One searchable item, as the live index knows it. */
export interface LiveItem {
  id: string;
  relPath: string;
  metadata: ItemMetadata;
}

/** What `searchItems` needs: nearest-neighbour hits by fid, and the item of a fid. */
export interface Searchable {
  /** Live vectors in the index. */
  size(): number;
  search(query: Float32Array, k: number): SearchHit[];
  item(fid: number): LiveItem | undefined;
}

export function searchItems(
  index: Searchable,
  query: Float32Array,
  options: SearchOptions,
  absPath: (relPath: string) => string,
): SimilarItem[] {
  const k = Math.max(0, Math.floor(options.k));
  const n = index.size();
  if (k === 0 || n === 0) return [];
  const excludeDuplicates = options.excludeDuplicates ?? true;
  const filters = normaliseFilters(options.filters);
  let depth = filters === undefined ? k + (excludeDuplicates ? 4 : 0) : Math.max(k * 8, 64);
  for (;;) {
    const kk = Math.min(depth, n);
    const hits = index.search(query, kk);
    const out: SimilarItem[] = [];
    for (const h of hits) {
      if (h.id < 0) continue;
      if (excludeDuplicates && h.distance < DUPLICATE_DISTANCE) continue;
      const item = index.item(h.id);
      if (item === undefined) continue;
      if (filters !== undefined && !matches(item.metadata, filters)) continue;
      const distance = Math.max(0, h.distance);
      out.push({
        rank: out.length + 1,
        id: item.id,
        path: absPath(item.relPath),
        distance,
        similarity: 1 - distance / 2,
        metadata: item.metadata,
      });
      if (out.length === k) return out;
    }
    if (kk >= n) return out;
    depth *= 4;
  }
}

/** Distinct values of a metadata field (name case-insensitive), most common first. */
export function facetOf(items: Iterable<LiveItem>, field: string): string[] {
  const counts = new Map<string, number>();
  const f = field.toLowerCase();
  for (const it of items) {
    const key = Object.keys(it.metadata).find((k) => k.toLowerCase() === f);
    const v = key === undefined ? undefined : it.metadata[key];
    if (v === undefined || v === '') continue;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v);
}

function normaliseFilters(filters: MetadataFilters | undefined): [string, string][] | undefined {
  if (filters === undefined) return undefined;
  const entries = Object.entries(filters).map(
    ([k, v]) => [k.toLowerCase(), v.trim().toLowerCase()] as [string, string],
  );
  return entries.length === 0 ? undefined : entries;
}

function matches(metadata: ItemMetadata, filters: [string, string][]): boolean {
  for (const [field, want] of filters) {
    let found = false;
    for (const [k, v] of Object.entries(metadata)) {
      if (k.toLowerCase() === field && v !== undefined && v.toLowerCase() === want) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
