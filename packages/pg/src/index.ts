export { openPgCatalog, type PgCatalog, type PgCatalogOptions } from './catalog.js';
export { type CheckedOut, checkout } from './checkout.js';
export { createPgFeedbackStore } from './feedback-store.js';
export {
  CATALOG_CHANNEL,
  type CatalogListener,
  type ListenOptions,
  listenCatalogVersions,
  type VersionEvent,
} from './listen.js';
export { MIGRATION_LOCK_KEY, MIGRATIONS, type Migration, runMigrations } from './migrations.js';
export { createPgStore } from './store.js';
export type {
  Changes,
  FailureInput,
  ItemFailure,
  ItemInput,
  ListedItem,
  LiveItemRow,
  LoadOptions,
  LoadResult,
  PgStore,
  ReindexRun,
  RelabelInput,
  RemovedItem,
  RunStatus,
  StaleItem,
  StoredItem,
  UpsertResult,
  WriteResult,
} from './store-types.js';
export { CopyVectorDecoder, decodeVector, encodeVector, type VectorChunk } from './vectors.js';
