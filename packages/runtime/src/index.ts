export { chatComponent, closeComponent, httpComponent } from './components.js';
export {
  type EventLoopLag,
  type EventLoopMonitor,
  type EventLoopMonitorOptions,
  startEventLoopMonitor,
} from './event-loop.js';
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
export { embedderOptionsFrom, type OpenRuntimeOptions, openRuntime, type Runtime, unwiredEngines } from './runtime.js';
export { listenOn, type StartedRuntime, startRuntime } from './start.js';
