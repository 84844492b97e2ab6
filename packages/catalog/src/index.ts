export { catalogExists, openCatalog, removeCatalogData } from './catalog.js';
export * from './csv.js';
export * from './demo.js';
export { type EmbedOutcome, type EmbedWindowOptions, embedInWindow, sha256Hex } from './embed-window.js';
export * from './eval.js';
export { failureOf, isSkippable } from './failures.js';
export { type DownloadFailure, downloadFailureOf, FIRST_PER_CODE } from './feed-failures.js';
export { storedFeedSource } from './feed-options.js';
export { feedSourceForLog, isFeedUrl } from './feed-source.js';
export {
  FEEDBACK_FILE,
  FEEDBACK_SQLITE_SCHEMA,
  feedbackExists,
  feedbackPath,
  openSqliteFeedbackStore,
  type SqliteFeedbackStoreOptions,
} from './feedback-store.js';
export { IMAGE_CACHE_DIR } from './image-cache.js';
export { readStoredWeights } from './migration.js';
export {
  type EmbedJob,
  feedMassRemovalError,
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
export { PROGRESS_INTERVAL_MS, ProgressTracker, type ProgressTrackerOptions } from './progress.js';
export * from './scan.js';
export { DUPLICATE_DISTANCE, facetOf, type LiveItem, type Searchable, searchItems } from './search.js';
export { blobToVector, type FailureRow, type ItemRow, SCHEMA_VERSION, vectorToBlob } from './store.js';
export type {
  Catalog,
  CatalogInfo,
  CatalogItem,
  CatalogOptions,
  CatalogReindexSummary,
  FailureGroup,
  FeedFetcher,
  FeedOptions,
  HostQueue,
} from './types.js';
