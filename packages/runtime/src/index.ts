export type { ClusterReindexSummary } from '@lookalike/cluster';
export {
  type ClusterCommandOptions,
  type ClusterReindexing,
  missingWorkerVariables,
  openClusterReindexing,
  startWorkerRuntime,
  type WorkerRuntime,
} from './cluster-commands.js';
export { chatComponent, closeComponent, httpComponent } from './components.js';
export { type Engines, openEngines, redactUrl } from './engines.js';
export {
  type EventLoopLag,
  type EventLoopMonitor,
  type EventLoopMonitorOptions,
  startEventLoopMonitor,
} from './event-loop.js';
export { type FeedDownloads, feedOptionsFrom, openFeedDownloads } from './feed-downloads.js';
export {
  FEEDBACK_SALT_FILE,
  feedbackSalt,
  openFeedback,
  openFeedbackStore,
  type ProcessFeedback,
} from './feedback.js';
export { createRootLogger, type RootLoggerOptions } from './logger.js';
export {
  createProcessMetrics,
  METRIC_NAMES,
  type ProcessMetrics,
  type ProcessMetricsOptions,
} from './metrics.js';
export {
  type ProcessComponent,
  type ProcessControl,
  type RunProcessOptions,
  runProcess,
  SHUTDOWN_GRACE_MS,
  SHUTDOWN_STEPS,
  type ShutdownStep,
  type SignalSource,
} from './process.js';
export {
  embedderOptionsFrom,
  type OpenRuntimeOptions,
  openRuntime,
  type Runtime,
  type RuntimeCatalog,
  type RuntimeCatalogInfo,
  type RuntimeStore,
} from './runtime.js';
export { listenOn, type StartedRuntime, startRuntime } from './start.js';
