export { createCoordinator } from './coordinator.js';
export { embedJobId, embedQueueName } from './job.js';
export { createLocalReindexer } from './local-reindexer.js';
export { modelKey } from './model.js';
export {
  type CatalogPlan,
  type EmbedTask,
  type HashOutcome,
  type HashTask,
  planCatalog,
  resolveHashed,
} from './plan.js';
export { openReplicaCatalog } from './replica.js';
export type * from './types.js';
export { startEmbedWorker } from './worker.js';
