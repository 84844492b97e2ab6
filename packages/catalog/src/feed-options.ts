/**
 * Which feed a catalog reads: the one given when it is opened, else the one recorded by its last
 * feed run (meta `catalog_kind`, `feed_source`, `feed_format`, `feed_map`, `feed_currency`,
 * `feed_include_out_of_stock`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LookalikeError } from '@lookalike/core';
import { FEED_FIELDS, type FeedField, type FeedFormat } from '@lookalike/feeds';
import type { ResolvedFeed } from './feed-run.js';
import { normaliseFeedSource } from './feed-source.js';
import { CATALOG_FILE } from './migration.js';
import { CatalogStore } from './store.js';
import type { CatalogOptions, FeedOptions } from './types.js';

/**
 * The feed of the catalog: `options.feed` (over what was recorded), else the recorded feed when
 * the catalog is a feed catalog and no images folder is given; undefined for a folder catalog.
 * @throws LookalikeError CONFIG_INVALID for a column map naming an unknown field
 */
export function resolveFeed(options: CatalogOptions, store: CatalogStore): ResolvedFeed | undefined {
  const given: FeedOptions | undefined = options.feed;
  const recorded = store.getMeta('catalog_kind') === 'feed' ? store.getMeta('feed_source') : undefined;
  if (given === undefined && (options.imagesDir !== undefined || recorded === undefined)) return undefined;
  const source = given === undefined ? recorded! : normaliseFeedSource(given.source);
  const same = recorded !== undefined && recorded === source;
  const storedFormat = same ? store.getMeta('feed_format') : undefined;
  const storedMap = same ? (JSON.parse(store.getMeta('feed_map') ?? '{}') as Record<string, string>) : undefined;
  const storedStock = same ? store.getMeta('feed_include_out_of_stock') === '1' : undefined;
  const storedCurrency = same ? store.getMeta('feed_currency') || undefined : undefined;
  const map = given?.map ?? storedMap;
  for (const field of Object.keys(map ?? {})) {
    if (!(FEED_FIELDS as readonly string[]).includes(field)) {
      throw new LookalikeError(
        'CONFIG_INVALID',
        `Unknown feed field "${field}" in the column map (fields: ${FEED_FIELDS.join(', ')})`,
        { details: { field } },
      );
    }
  }
  return {
    source,
    format: given?.format ?? ((storedFormat || undefined) as FeedFormat | undefined),
    map: map === undefined || Object.keys(map).length === 0 ? undefined : (map as Partial<Record<FeedField, string>>),
    currency: given?.currency ?? storedCurrency,
    includeOutOfStock: given?.includeOutOfStock ?? storedStock ?? false,
  };
}

/**
 * The feed the catalog in `dataDir` was last indexed from (meta `feed_source`), or undefined for a
 * folder catalog, a new data dir or an unreadable database. `lookalike start` without
 * LOOKALIKE_FEED or LOOKALIKE_CATALOG_DIR opens that feed catalog instead of drawing the demo.
 */
export function storedFeedSource(dataDir: string): string | undefined {
  const path = join(dataDir, CATALOG_FILE);
  if (!existsSync(path)) return undefined;
  let store: CatalogStore | undefined;
  try {
    store = new CatalogStore(path, { readonly: true });
    return store.getMeta('catalog_kind') === 'feed' ? store.getMeta('feed_source') : undefined;
  } catch {
    return undefined;
  } finally {
    store?.close();
  }
}
