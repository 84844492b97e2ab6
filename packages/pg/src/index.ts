export { openPgCatalog, type PgCatalog, type PgCatalogOptions } from './catalog.js';
export {
  CATALOG_CHANNEL,
  type CatalogListener,
  type ListenOptions,
  listenCatalogVersions,
  type VersionEvent,
} from './listen.js';
export { MIGRATION_LOCK_KEY, MIGRATIONS, type Migration, runMigrations } from './migrations.js';
export {
  type Changes,
  createPgStore,
  type FailureInput,
  type ItemFailure,
  type ItemInput,
  type ListedItem,
  type LoadOptions,
  type LoadResult,
  type PgStore,
  type ReindexRun,
  type RemovedItem,
  type RunStatus,
  type StaleItem,
  type StoredItem,
  type UpsertResult,
  type WriteResult,
} from './store.js';
export { CopyVectorDecoder, decodeVector, encodeVector, type VectorChunk } from './vectors.js';
