/**
 * The start-up steps every answering process shares, registered with runProcess as they run:
 * metrics → embedder, catalog and service → (the caller's HTTP server and bots) → listen.
 */
import { type FeedbackRecorder, LookalikeError } from '@lookalike/core';
import { closeComponent } from './components.js';
import { openFeedback } from './feedback.js';
import { createProcessMetrics, type ProcessMetrics, type ProcessMetricsOptions } from './metrics.js';
import type { ProcessControl } from './process.js';
import { type OpenRuntimeOptions, openRuntime, type Runtime } from './runtime.js';

export interface StartedRuntime extends Runtime {
  /** The process's metrics, already observing the service. */
  metrics: ProcessMetrics;
  /** The process's one feedback recorder, for the bots (`disabledFeedback` with LOOKALIKE_FEEDBACK=off). */
  feedback: FeedbackRecorder;
}

/**
 * Creates the process's metrics and opens its runtime with them as observer; both are closed in
 * shutdown's last step (the service first, then the metrics).
 */
export async function startRuntime(
  proc: ProcessControl,
  options: Omit<OpenRuntimeOptions, 'observer'> & { metrics?: ProcessMetricsOptions },
): Promise<StartedRuntime> {
  const { metrics: metricsOptions, ...runtimeOptions } = options;
  const metrics = createProcessMetrics(metricsOptions);
  proc.add(closeComponent('metrics', () => metrics.close()));
  const runtime = await openRuntime({ ...runtimeOptions, observer: metrics.observer });
  proc.add(closeComponent('service', () => runtime.close()));
  metrics.watch(() => runtime.service.status());
  const feedback = await openFeedback(options.config, options.logger);
  proc.add(closeComponent('feedback', () => feedback.close()));
  return { ...runtime, metrics, feedback: feedback.recorder };
}

/**
 * Starts listening, turning the usual failures into a sentence.
 * @throws LookalikeError INTERNAL naming the address (in use, or not available)
 */
export async function listenOn(
  http: { listen(port: number, host: string): Promise<{ port: number; host: string }> },
  address: { host: string; port: number },
): Promise<{ port: number; host: string }> {
  try {
    return await http.listen(address.port, address.host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LookalikeError(
      'INTERNAL',
      code === 'EADDRINUSE'
        ? `${address.host}:${address.port} is already in use (set PORT or HOST)`
        : `cannot listen on ${address.host}:${address.port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
