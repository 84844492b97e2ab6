/**
 * Top-k search over the live index: exact duplicates of the query, excluded ids (a "more like
 * this" chain) and out-of-stock items left out, and metadata filters. With metadata filters or
 * excluded ids, the index scans only the allowed items (a bitmap of them, `SearchFilter`), so k
 * results come from k + a small margin for duplicates instead of an over-fetch; otherwise one
 * plain search of k + that margin, and the filtered scan only when out-of-stock items (or
 * duplicates) crowd it out. Either way: the first k allowed items in the index's order.
 */
import type { ItemMetadata, MetadataFilters, SearchOptions, SimilarItem } from '@lookalike/core';
import type { SearchFilter, SearchHit } from '@lookalike/index';

/** Squared-L2 distance under which a result counts as an exact duplicate of the query. */
export const DUPLICATE_DISTANCE = 1e-6;

/** Results fetched beyond k when exact duplicates of the query are left out (widened ×4 if short). */
const DUPLICATE_MARGIN = 4;

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
  /** The k nearest (only fids `filter.allow`s, when given), nearest first (`VectorIndex.search`). */
  search(query: Float32Array, k: number, filter?: SearchFilter): SearchHit[];
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
  const exclude = options.exclude === undefined || options.exclude.length === 0 ? undefined : new Set(options.exclude);
  const hideOutOfStock = options.includeOutOfStock !== true;
  const allowed = (item: LiveItem | undefined): item is LiveItem =>
    item !== undefined &&
    exclude?.has(item.id) !== true &&
    !(hideOutOfStock && isOutOfStock(item.metadata)) &&
    (filters === undefined || matches(item.metadata, filters));
  const margin = excludeDuplicates ? DUPLICATE_MARGIN : 0;

  /** The first k allowed, non-duplicate hits; `done` when no deeper search can add any. */
  const collect = (hits: SearchHit[], kk: number): { out: SimilarItem[]; done: boolean } => {
    const out: SimilarItem[] = [];
    for (const h of hits) {
      if (h.id < 0) continue;
      if (excludeDuplicates && h.distance < DUPLICATE_DISTANCE) continue;
      const item = index.item(h.id);
      if (!allowed(item)) continue;
      const distance = Math.max(0, h.distance);
      out.push({
        rank: out.length + 1,
        id: item.id,
        path: absPath(item.relPath),
        distance,
        similarity: 1 - distance / 2,
        metadata: item.metadata,
      });
      if (out.length === k) return { out, done: true };
    }
    return { out, done: hits.length < kk || kk >= n };
  };

  if (filters === undefined && exclude === undefined) {
    // Usually enough: out-of-stock items are few, and duplicates of the query one or two.
    const kk = Math.min(k + margin, n);
    const first = collect(index.search(query, kk), kk);
    if (first.done) return first.out;
  }
  // Only the allowed items are scanned; deeper only when duplicates of the query fill the margin.
  const filter: SearchFilter = { allow: (fid) => allowed(index.item(fid)) };
  for (let depth = k + margin; ; depth *= 4) {
    const kk = Math.min(depth, n);
    const r = collect(index.search(query, kk, filter), kk);
    if (r.done) return r.out;
  }
}

/**
 * True for an item whose `availability` says out of stock (`out_of_stock`, or a labels file's
 * "out of stock" / "Out-Of-Stock"): hidden from answers unless `includeOutOfStock`.
 */
export function isOutOfStock(metadata: ItemMetadata): boolean {
  const v = metadata.availability;
  return (
    v !== undefined &&
    v
      .trim()
      .toLowerCase()
      .replace(/[\s-]+/g, '_') === 'out_of_stock'
  );
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
