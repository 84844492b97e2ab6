/**
 * A replica's in-memory state: the FAISS index (FAISS id = PostgreSQL item id) and the item of
 * every id in it. Filled by the load (vector chunks, then the live items' metadata) and kept
 * current by incremental changes: removals and replaced vectors leave the index, new ones are
 * added. It is never rebuilt.
 */

import type { LiveItem, Searchable } from '@lookalike/catalog';
import type { ItemMetadata, Logger } from '@lookalike/core';
import type { SearchFilter, SearchHit, VectorIndex } from '@lookalike/index';
import type { Changes, LiveItemRow, VectorChunk } from '@lookalike/pg';

/** One searchable item: the catalog's search shape plus its PostgreSQL id. */
export interface ReplicaItem extends LiveItem {
  itemId: number;
}

/**
 * The shown id and labels of a stored item from its `metadata` jsonb (`StoredMetadata`). A row
 * written by something else degrades instead of failing: the id falls back to the source key's
 * stem, labels keep only string values.
 */
export function replicaItemOf(itemId: number, sourceKey: string, metadata: Record<string, unknown>): ReplicaItem {
  const id = typeof metadata.id === 'string' && metadata.id !== '' ? metadata.id : stemOf(sourceKey);
  const labels: ItemMetadata = {};
  const raw = metadata.labels;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[k] = v;
  }
  return { itemId, id, relPath: sourceKey, metadata: labels };
}

function stemOf(sourceKey: string): string {
  const name = sourceKey.slice(sourceKey.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** True when every value is finite (FAISS refuses the whole add otherwise). */
function finite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

export class ReplicaItems implements Searchable {
  readonly index: VectorIndex;
  readonly #items = new Map<number, ReplicaItem>();
  /** The PostgreSQL id of each shown id (`ReplicaItem.id`), for "more like this". */
  readonly #byId = new Map<string, number>();
  readonly #log: Logger;

  constructor(index: VectorIndex, logger: Logger) {
    this.index = index;
    this.#log = logger;
  }

  size(): number {
    return this.index.size();
  }

  /** The k nearest fids (with `filter`: an exact scan of the allowed ones only). */
  search(query: Float32Array, k: number, filter?: SearchFilter): SearchHit[] {
    return this.index.search(query, k, filter);
  }

  item(fid: number): ReplicaItem | undefined {
    return this.#items.get(fid);
  }

  items(): IterableIterator<ReplicaItem> {
    return this.#items.values();
  }

  /** The vector of the item with this shown id, read back from the in-memory index (no PostgreSQL). */
  vectorOf(id: string): Float32Array | undefined {
    const fid = this.#byId.get(id);
    return fid === undefined ? undefined : this.index.vector(fid);
  }

  #setItem(item: ReplicaItem): void {
    const before = this.#items.get(item.itemId);
    if (before !== undefined && before.id !== item.id) this.#forget(before);
    this.#items.set(item.itemId, item);
    this.#byId.set(item.id, item.itemId);
  }

  #deleteItem(itemId: number): void {
    const item = this.#items.get(itemId);
    if (item === undefined) return;
    this.#items.delete(itemId);
    this.#forget(item);
  }

  #forget(item: ReplicaItem): void {
    if (this.#byId.get(item.id) === item.itemId) this.#byId.delete(item.id);
  }

  /**
   * Adds one chunk of a binary-COPY load: row views into the chunk's buffer, no copies per row.
   * A chunk FAISS refuses (a stored vector with a non-finite value) is added row by row, the bad
   * rows left out and logged.
   */
  addChunk(chunk: VectorChunk): void {
    const { count, dimension: d, vectors } = chunk;
    const ids = Array.from(chunk.ids.subarray(0, count));
    const rows = Array.from({ length: count }, (_, i) => vectors.subarray(i * d, (i + 1) * d));
    try {
      this.index.add(ids, rows);
    } catch (err) {
      this.#log.warn({ err, rows: count }, 'a chunk of stored vectors was refused; adding its rows one by one');
      for (let i = 0; i < count; i++) this.#addOne(ids[i]!, rows[i]!);
    }
  }

  /**
   * Joins the live items' metadata to the loaded vectors. Items without a vector of this model
   * are not searchable here and are skipped.
   */
  setItems(rows: readonly LiveItemRow[]): void {
    for (const row of rows) {
      if (this.index.has(row.id)) this.#setItem(replicaItemOf(row.id, row.sourceKey, row.metadata));
    }
  }

  /** Ids in the index with no item (removed between the two reads of a load and not reported since). */
  dropOrphans(): number {
    const orphans = this.index.ids().filter((id) => !this.#items.has(id));
    if (orphans.length > 0) this.index.remove(orphans);
    return orphans.length;
  }

  /**
   * Applies what changed since the version held: removed items leave; an upserted item's old
   * vector (if any) leaves and its current one is added with its current metadata.
   */
  apply(changes: Pick<Changes, 'upserts' | 'removals'>): { added: number; removed: number } {
    const removed = changes.removals.map((r) => r.id);
    // The newest of an id wins (a snapshot names each id once; this is only defensive).
    const upserts = new Map(changes.upserts.map((u) => [u.id, u]));
    const good = [...upserts.values()].filter((u) => {
      if (u.vector.length === this.index.dimension && finite(u.vector)) return true;
      this.#log.error(
        { itemId: u.id, sourceKey: u.sourceKey, length: u.vector.length, dimension: this.index.dimension },
        'stored vector unusable: item left out of this replica',
      );
      removed.push(u.id);
      return false;
    });
    const drop = [...removed, ...good.map((u) => u.id)].filter((id) => this.index.has(id));
    if (drop.length > 0) this.index.remove(drop);
    for (const id of removed) this.#deleteItem(id);
    if (good.length > 0) {
      this.index.add(
        good.map((u) => u.id),
        good.map((u) => u.vector),
      );
      for (const u of good) this.#setItem(replicaItemOf(u.id, u.sourceKey, u.metadata));
    }
    return { added: good.length, removed: removed.length };
  }

  #addOne(id: number, vector: Float32Array): void {
    try {
      this.index.add([id], [vector]);
    } catch (err) {
      this.#log.error({ err, itemId: id }, 'stored vector unusable: item left out of this replica');
    }
  }
}
