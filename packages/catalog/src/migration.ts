/**
 * A model change without losing the stored vectors: the catalog is re-embedded with the loaded
 * weights into a shadow database (`catalog.next.sqlite`) with its own live index, while the old
 * `catalog.sqlite` stays untouched. A crashed or stopped run leaves the shadow behind and the
 * next run continues it incrementally. When a run completes, `swapInShadow` makes the shadow the
 * catalog in one synchronous step (an atomic rename).
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger, WeightsInfo } from '@lookalike/core';
import { emptyLiveIndex, type IndexSpec, rebuildLiveIndex } from './index-file.js';
import type { LiveIndex } from './live-index.js';
import { CatalogStore } from './store.js';

export const CATALOG_FILE = 'catalog.sqlite';
export const SHADOW_FILE = 'catalog.next.sqlite';
const SQLITE_SIDE_FILES = ['-wal', '-shm'];

/** The weights recorded in a catalog database (undefined when none, or no database). */
export interface StoredWeights {
  source: string;
  md5: string;
  description: string | undefined;
}

export function storedWeightsOf(store: CatalogStore): StoredWeights | undefined {
  const source = store.getMeta('weights_source');
  const md5 = store.getMeta('weights_md5');
  if (source === undefined || md5 === undefined) return undefined;
  return { source, md5, description: store.getMeta('weights_description') };
}

/** The core WeightsInfo of stored weights (the description is rebuilt when none was recorded). */
export function weightsInfoOf(stored: StoredWeights): WeightsInfo {
  const source = stored.source === 'keras-official' || stored.source === 'untrained' ? stored.source : 'file';
  return {
    source,
    md5: stored.md5,
    untrained: source === 'untrained',
    description: stored.description ?? `ResNet50 (${stored.source}, md5 ${stored.md5.slice(0, 8)}…)`,
  };
}

/**
 * The weights the items in `<dataDir>/catalog.sqlite` were embedded with, read without changing
 * anything (undefined when there is no catalog or it holds no items).
 */
export function readStoredWeights(dataDir: string): WeightsInfo | undefined {
  const path = join(dataDir, CATALOG_FILE);
  if (!existsSync(path)) return undefined;
  let store: CatalogStore | undefined;
  try {
    store = new CatalogStore(path, { readonly: true });
    const stored = storedWeightsOf(store);
    return stored === undefined || store.count() === 0 ? undefined : weightsInfoOf(stored);
  } catch {
    return undefined;
  } finally {
    store?.close();
  }
}

function removeDatabase(path: string): void {
  for (const suffix of ['', ...SQLITE_SIDE_FILES]) rmSync(`${path}${suffix}`, { force: true });
}

/** Removes a left-over shadow (the model changed back, or again). */
export function discardShadow(dataDir: string): void {
  removeDatabase(join(dataDir, SHADOW_FILE));
}

/** The re-embed in progress: the stored weights it replaces, the shadow database and its live index. */
export class Migration {
  readonly from: WeightsInfo;
  readonly store: CatalogStore;
  live: LiveIndex;

  private constructor(from: WeightsInfo, store: CatalogStore, live: LiveIndex) {
    this.from = from;
    this.store = store;
    this.live = live;
  }

  /**
   * Opens the shadow of `dataDir` for `weights`: continues one made for the same weights (its
   * live index rebuilt from its vectors), else starts an empty one.
   */
  static async open(o: {
    dataDir: string;
    from: WeightsInfo;
    weights: WeightsInfo;
    spec: IndexSpec;
    logger: Logger;
  }): Promise<Migration> {
    const path = join(o.dataDir, SHADOW_FILE);
    let store = new CatalogStore(path);
    const made = storedWeightsOf(store);
    if (made !== undefined && made.md5 !== o.weights.md5) {
      o.logger.info({ shadow: made.md5, loaded: o.weights.md5 }, 'discarding a re-embed made for other weights');
      store.close();
      removeDatabase(path);
      store = new CatalogStore(path);
    }
    if (store.count() === 0) return new Migration(o.from, store, emptyLiveIndex(o.spec, store.generation()));
    o.logger.info({ done: store.count() }, 'continuing the re-embed of a model change');
    try {
      const { live } = await rebuildLiveIndex(store, o.spec, o.logger);
      return new Migration(o.from, store, live);
    } catch (err) {
      store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.live.index.close();
    this.store.close();
  }
}

/**
 * Makes the shadow the catalog, synchronously: the shadow is checkpointed and closed, the old
 * database closed, and `catalog.next.sqlite` renamed over `catalog.sqlite` (atomic). A crash
 * before the rename leaves both databases whole (the next run finishes the shadow at once);
 * after it, the new catalog. Returns the new catalog's store.
 */
export function swapInShadow(dataDir: string, shadow: CatalogStore, old: CatalogStore): CatalogStore {
  const shadowPath = join(dataDir, SHADOW_FILE);
  const mainPath = join(dataDir, CATALOG_FILE);
  shadow.db.pragma('wal_checkpoint(TRUNCATE)');
  shadow.close();
  old.close();
  // The old database's side files must not be read as the new one's.
  for (const suffix of SQLITE_SIDE_FILES) rmSync(`${mainPath}${suffix}`, { force: true });
  renameSync(shadowPath, mainPath);
  for (const suffix of SQLITE_SIDE_FILES) rmSync(`${shadowPath}${suffix}`, { force: true });
  return new CatalogStore(mainPath);
}
