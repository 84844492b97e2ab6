export { catalogExists, openCatalog, removeCatalogData } from './catalog.js';
export * from './csv.js';
export * from './demo.js';
export * from './eval.js';
export { readStoredWeights } from './migration.js';
export {
  type EmbedJob,
  type HashJob,
  type HashOutcome,
  massRemovalError,
  metadataOf,
  planReindex,
  type ReindexPlan,
  type Relabel,
  removalCount,
  resolveHashed,
  type StoredState,
} from './plan.js';
export * from './scan.js';
export { DUPLICATE_DISTANCE } from './search.js';
export { blobToVector, type FailureRow, type ItemRow, SCHEMA_VERSION, vectorToBlob } from './store.js';
export type { Catalog, CatalogInfo, CatalogItem, CatalogOptions, CatalogReindexSummary } from './types.js';
