/**
 * Event-loop lag in fixed windows, from `monitorEventLoopDelay`: each window's p50, p99 and max
 * are kept until the next window closes, so every reader (Prometheus, the benchmark) sees the
 * same figures however often it scrapes.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopLag {
  /** Seconds. */
  p50: number;
  p99: number;
  max: number;
  /** Samples in the window. */
  samples: number;
}

export interface EventLoopMonitorOptions {
  /** Sampling interval of the monitor. @defaultValue 10 */
  resolutionMs?: number;
  /** Length of one window. @defaultValue 5000 */
  windowMs?: number;
}

export interface EventLoopMonitor {
  /** The last complete window (the running one until the first window closes). */
  lag(): EventLoopLag;
  stop(): void;
}

/** Starts sampling. The window timer is unref'd: it never keeps the process alive. */
export function startEventLoopMonitor(options: EventLoopMonitorOptions = {}): EventLoopMonitor {
  const resolutionMs = options.resolutionMs ?? 10;
  const windowMs = options.windowMs ?? 5000;
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  // The monitor records the time between its timer's runs: the interval itself is not lag.
  const lagSeconds = (ns: number) => Math.max(0, ns / 1e9 - resolutionMs / 1000);
  const read = (): EventLoopLag =>
    histogram.count === 0
      ? { p50: 0, p99: 0, max: 0, samples: 0 }
      : {
          p50: lagSeconds(histogram.percentile(50)),
          p99: lagSeconds(histogram.percentile(99)),
          max: lagSeconds(histogram.max),
          samples: histogram.count,
        };
  let last: EventLoopLag | undefined;
  const timer = setInterval(() => {
    last = read();
    histogram.reset();
  }, windowMs);
  timer.unref();
  return {
    lag: () => last ?? read(),
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
