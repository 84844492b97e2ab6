/**
 * The live index: the FAISS index and the item of every fid in it, as searched right now.
 * Each committed batch of a reindex is applied to it at once (removals, then additions), so
 * the catalog is searchable while it is being indexed; it is never rebuilt on the answer path.
 */
import type { ItemMetadata } from '@lookalike/core';
import type { SearchFilter, SearchHit, VectorIndex } from '@lookalike/index';
import type { LiveItem, Searchable } from './search.js';

/** A stored item whose vector is new (added, or its content changed). */
export interface LiveUpsert {
  fid: number;
  vector: Float32Array;
  item: LiveItem;
}

/** A stored item whose id or labels changed (same vector). */
export interface LiveRelabel {
  fid: number;
  id: string;
  relPath: string;
  /** JSON, as stored. */
  metadata: string;
}

/** What one committed transaction changed. */
export interface LiveChanges {
  remove?: readonly number[];
  upsert?: readonly LiveUpsert[];
  relabel?: readonly LiveRelabel[];
}

export class LiveIndex implements Searchable {
  readonly index: VectorIndex;
  readonly #items: Map<number, LiveItem>;
  /** The database generation this state matches (-1: matches nothing, e.g. other weights). */
  generation: number;

  constructor(index: VectorIndex, items: Map<number, LiveItem>, generation: number) {
    this.index = index;
    this.#items = items;
    this.generation = generation;
  }

  /** Searchable items. */
  count(): number {
    return this.#items.size;
  }

  /** Vectors the index searches (equals `count()` when in step). */
  size(): number {
    return this.index.size();
  }

  /** The k nearest fids (with `filter`: an exact scan of the allowed ones only). */
  search(query: Float32Array, k: number, filter?: SearchFilter): SearchHit[] {
    return this.index.search(query, k, filter);
  }

  item(fid: number): LiveItem | undefined {
    return this.#items.get(fid);
  }

  items(): IterableIterator<LiveItem> {
    return this.#items.values();
  }

  /**
   * Applies a committed transaction: removed fids and the old vectors of updated items leave
   * the index (incremental `remove`), then the new vectors are added; labels are replaced.
   */
  apply(changes: LiveChanges, generation: number): void {
    try {
      this.#apply(changes);
    } catch (err) {
      // Out of step with the database now: the next reindex rebuilds it from the stored vectors.
      this.generation = -1;
      throw err;
    }
    this.generation = generation;
  }

  #apply(changes: LiveChanges): void {
    const remove = changes.remove ?? [];
    const upsert = changes.upsert ?? [];
    const drop = [...remove];
    for (const u of upsert) if (this.index.has(u.fid)) drop.push(u.fid);
    if (drop.length > 0) this.index.remove(drop);
    for (const fid of remove) this.#items.delete(fid);
    if (upsert.length > 0) {
      this.index.add(
        upsert.map((u) => u.fid),
        upsert.map((u) => u.vector),
      );
      for (const u of upsert) this.#items.set(u.fid, u.item);
    }
    for (const r of changes.relabel ?? []) {
      if (this.#items.has(r.fid)) this.#items.set(r.fid, toLiveItem(r.id, r.relPath, r.metadata));
    }
  }
}

/**
 * A stored item as the live index holds it. `relPath`: the image, relative to the images folder
 * (folder items) or to the data dir (feed items: their image cache file).
 */
export function toLiveItem(id: string, relPath: string, metadata: string): LiveItem {
  return { id, relPath, metadata: JSON.parse(metadata) as ItemMetadata };
}
