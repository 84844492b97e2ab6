/**
 * The process's metrics, in its own prom-client registry (never the global default, so several
 * processes' worth can live in one test process): request counts and latencies per surface and
 * outcome, stage timings, queue, reindex progress, catalog size and event-loop lag. Served as
 * Prometheus text at GET /metrics by @lookalike/server.
 */
import type { AnswerStage, ServiceObserver, ServiceStatus, Surface } from '@lookalike/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type EventLoopMonitorOptions, startEventLoopMonitor } from './event-loop.js';

/** Names of every metric this module defines (prefix `lookalike_`). */
export const METRIC_NAMES = Object.freeze({
  requests: 'lookalike_requests_total',
  requestSeconds: 'lookalike_request_duration_seconds',
  stageSeconds: 'lookalike_stage_duration_seconds',
  queueDepth: 'lookalike_queue_depth',
  inFlight: 'lookalike_in_flight',
  catalogItems: 'lookalike_catalog_items',
  reindexRunning: 'lookalike_reindex_running',
  reindexPhase: 'lookalike_reindex_phase',
  reindexDone: 'lookalike_reindex_done',
  reindexTotal: 'lookalike_reindex_total',
  reindexSearchable: 'lookalike_reindex_searchable',
  reindexExpected: 'lookalike_reindex_expected',
  reindexRate: 'lookalike_reindex_rate',
  eventLoopLagP50: 'lookalike_event_loop_lag_p50_seconds',
  eventLoopLagP99: 'lookalike_event_loop_lag_p99_seconds',
  eventLoopLagMax: 'lookalike_event_loop_lag_max_seconds',
});

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ProcessMetricsOptions {
  /** Also collect prom-client's process and Node.js metrics (CPU, memory, GC, handles). @defaultValue true */
  defaultMetrics?: boolean;
  /** Event-loop lag sampling. @defaultValue 10 ms resolution, 5 s windows */
  eventLoop?: EventLoopMonitorOptions;
}

export interface ProcessMetrics {
  /** This process's registry. */
  readonly registry: Registry;
  /** Pass it to openRuntime's `observer`: it counts and times every answer. */
  readonly observer: ServiceObserver;
  /** Reads queue, reindex and catalog gauges from `status()` at each scrape. */
  watch(status: () => ServiceStatus): void;
  /** The Content-Type of render(). */
  readonly contentType: string;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Stops the event-loop monitor. */
  close(): void;
}

/** Creates the process's registry and metrics. */
export function createProcessMetrics(options: ProcessMetricsOptions = {}): ProcessMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  let status: (() => ServiceStatus) | undefined;
  let snapshot: ServiceStatus | undefined;
  /** One status() per scrape, shared by every gauge's collect(). */
  const current = (): ServiceStatus | undefined => {
    snapshot ??= status?.();
    return snapshot;
  };

  const requests = new Counter({
    name: METRIC_NAMES.requests,
    help: 'Answered and refused requests, by surface and outcome (ok or the error code)',
    labelNames: ['surface', 'outcome'] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: METRIC_NAMES.requestSeconds,
    help: 'Time from findSimilar to its answer or error, by surface and outcome',
    labelNames: ['surface', 'outcome'] as const,
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const stageSeconds = new Histogram({
    name: METRIC_NAMES.stageSeconds,
    help: 'Time of each stage of an answer (download, inspect, embed, search, collage)',
    labelNames: ['stage'] as const,
    buckets: STAGE_BUCKETS,
    registers,
  });

  const gauge = (name: string, help: string, value: (s: ServiceStatus) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = current();
        if (s !== undefined) this.set(value(s));
      },
    });
  gauge(METRIC_NAMES.queueDepth, 'Queries waiting for a slot', (s) => s.queueDepth);
  gauge(METRIC_NAMES.inFlight, 'Queries being answered', (s) => s.inFlight);
  gauge(METRIC_NAMES.catalogItems, 'Catalog items searchable now', (s) => s.catalogSize);
  gauge(METRIC_NAMES.reindexRunning, '1 while a reindex runs', (s) => (s.reindexing ? 1 : 0));
  gauge(METRIC_NAMES.reindexDone, 'Items done in the current reindex phase', (s) => s.reindexProgress?.done ?? 0);
  gauge(METRIC_NAMES.reindexTotal, 'Items in the current reindex phase', (s) => s.reindexProgress?.total ?? 0);
  gauge(
    METRIC_NAMES.reindexSearchable,
    'Items searchable while the reindex runs',
    (s) => s.reindexProgress?.searchable ?? 0,
  );
  gauge(METRIC_NAMES.reindexExpected, 'Items the catalog will hold when the reindex ends (NaN while scanning)', (s) =>
    s.reindexProgress === null ? 0 : (s.reindexProgress.expected ?? Number.NaN),
  );
  gauge(METRIC_NAMES.reindexRate, 'Items per second in the current reindex phase', (s) => s.reindexProgress?.rate ?? 0);
  new Gauge({
    name: METRIC_NAMES.reindexPhase,
    help: 'The running reindex phase (1 on its label)',
    labelNames: ['phase'] as const,
    registers,
    collect() {
      this.reset();
      const phase = current()?.reindexProgress?.phase;
      if (phase !== undefined) this.set({ phase }, 1);
    },
  });

  const loop = startEventLoopMonitor(options.eventLoop);
  const lagGauge = (name: string, help: string, pick: (l: ReturnType<typeof loop.lag>) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(pick(loop.lag()));
      },
    });
  lagGauge(METRIC_NAMES.eventLoopLagP50, 'Event-loop lag, median over the last window', (l) => l.p50);
  lagGauge(METRIC_NAMES.eventLoopLagP99, 'Event-loop lag, 99th percentile over the last window', (l) => l.p99);
  lagGauge(METRIC_NAMES.eventLoopLagMax, 'Event-loop lag, maximum over the last window', (l) => l.max);

  const observer: ServiceObserver = {
    request(surface: Surface, outcome: string, seconds: number) {
      requests.inc({ surface, outcome });
      requestSeconds.observe({ surface, outcome }, seconds);
    },
    stage(stage: AnswerStage, seconds: number) {
      stageSeconds.observe({ stage }, seconds);
    },
  };

  return {
    registry,
    observer,
    contentType: registry.contentType,
    watch(fn) {
      status = fn;
    },
    async render() {
      snapshot = undefined;
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
    close() {
      loop.stop();
    },
  };
}
