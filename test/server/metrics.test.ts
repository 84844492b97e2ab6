/**
 * GET /metrics on the real stack: Prometheus text from the process's own registry, requests
 * counted per surface and outcome, stage timings, queue, catalog and reindex gauges, and the
 * event-loop lag from monitorEventLoopDelay.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { ServiceStatus } from '@lookalike/core';
import { createProcessMetrics, METRIC_NAMES, type ProcessMetrics, startEventLoopMonitor } from '@lookalike/runtime';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { createTestStack, type TestStack } from '../helpers/stack.js';

/** The value of one sample line, e.g. `lookalike_requests_total{surface="page",outcome="ok"}`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

function photoForm(bytes: Uint8Array, name: string): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
  return form;
}

describe('GET /metrics', () => {
  let stack: TestStack;
  let metrics: ProcessMetrics;
  let http: HttpServer;
  let base: string;

  before(async () => {
    metrics = createProcessMetrics();
    stack = await createTestStack({ catalogSize: 12, service: { observer: metrics.observer } });
    metrics.watch(() => stack.service.status());
    http = createHttpServer({ service: stack.service, localPage: true, metrics });
    const { port } = await http.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await http?.close();
    await stack?.close();
    metrics?.close();
  });

  test('GIVEN a page query and a refused one THEN both are counted and timed with surface "page" and their outcome', async () => {
    const item = stack.items.find((i) => i.path.endsWith('.jpg'));
    assert.ok(item !== undefined);
    const ok = await fetch(`${base}/api/similar`, {
      method: 'POST',
      body: photoForm(await readFile(item.path), 'a.jpg'),
    });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const bad = await fetch(`${base}/api/similar`, {
      method: 'POST',
      body: photoForm(Buffer.from('notes\n'), 'b.jpg'),
    });
    assert.equal(bad.status, 415);
    await bad.arrayBuffer();

    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(sample(text, `${METRIC_NAMES.requests}{surface="page",outcome="ok"}`), 1);
    assert.equal(sample(text, `${METRIC_NAMES.requests}{surface="page",outcome="UNSUPPORTED_IMAGE"}`), 1);
    assert.equal(sample(text, `${METRIC_NAMES.requestSeconds}_count{surface="page",outcome="ok"}`), 1);
    assert.ok((sample(text, `${METRIC_NAMES.requestSeconds}_sum{surface="page",outcome="ok"}`) ?? 0) > 0);
    // The refused upload stopped at inspection; only the answer reached the later stages.
    assert.ok((sample(text, `${METRIC_NAMES.stageSeconds}_count{stage="inspect"}`) ?? 0) >= 1);
    for (const stage of ['embed', 'search', 'collage']) {
      assert.equal(sample(text, `${METRIC_NAMES.stageSeconds}_count{stage="${stage}"}`), 1, stage);
    }
    assert.equal(sample(text, METRIC_NAMES.catalogItems), 12);
    assert.equal(sample(text, METRIC_NAMES.queueDepth), 0);
    assert.equal(sample(text, METRIC_NAMES.inFlight), 0);
    assert.equal(sample(text, METRIC_NAMES.reindexRunning), 0);
    for (const name of [METRIC_NAMES.eventLoopLagP50, METRIC_NAMES.eventLoopLagP99, METRIC_NAMES.eventLoopLagMax]) {
      const v = sample(text, name);
      assert.ok(v !== undefined && Number.isFinite(v) && v >= 0, `${name} = ${v}`);
    }
    assert.match(text, /^process_resident_memory_bytes \d+/m, "prom-client's process metrics are there too");
  });

  test('GIVEN LOCAL_PAGE off THEN /metrics is still served; without a metrics source it is 404', async () => {
    const off = createHttpServer({ service: stack.service, localPage: false, metrics });
    const none = createHttpServer({ service: stack.service, localPage: true });
    try {
      const a = await off.listen(0, '127.0.0.1');
      const b = await none.listen(0, '127.0.0.1');
      const served = await fetch(`http://127.0.0.1:${a.port}/metrics`);
      assert.equal(served.status, 200);
      assert.match(await served.text(), new RegExp(`^${METRIC_NAMES.catalogItems} 12$`, 'm'));
      const missing = await fetch(`http://127.0.0.1:${b.port}/metrics`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    } finally {
      await off.close();
      await none.close();
    }
  });
});

describe('process metrics', () => {
  test('GIVEN a running reindex THEN its progress, phase and the searchable count are gauges', async () => {
    const metrics = createProcessMetrics({ defaultMetrics: false });
    try {
      const status: ServiceStatus = {
        catalogSize: 240,
        weights: { source: 'untrained', md5: 'x', description: 'untrained', untrained: true },
        runtime: 'onnx',
        reindexing: true,
        reindexProgress: {
          phase: 'embedding',
          done: 240,
          total: 1731,
          rate: 12.5,
          etaSeconds: 119,
          startedAt: 0,
          searchable: 240,
          expected: 1731,
        },
        queueDepth: 3,
        inFlight: 2,
        uptimeSeconds: 20,
      };
      metrics.watch(() => status);
      const text = await metrics.render();
      assert.equal(sample(text, METRIC_NAMES.reindexRunning), 1);
      assert.equal(sample(text, `${METRIC_NAMES.reindexPhase}{phase="embedding"}`), 1);
      assert.equal(sample(text, METRIC_NAMES.reindexDone), 240);
      assert.equal(sample(text, METRIC_NAMES.reindexTotal), 1731);
      assert.equal(sample(text, METRIC_NAMES.reindexSearchable), 240);
      assert.equal(sample(text, METRIC_NAMES.reindexExpected), 1731);
      assert.equal(sample(text, METRIC_NAMES.reindexRate), 12.5);
      assert.equal(sample(text, METRIC_NAMES.queueDepth), 3);
      assert.equal(sample(text, METRIC_NAMES.inFlight), 2);
      assert.equal(sample(text, METRIC_NAMES.catalogItems), 240);

      status.reindexing = false;
      status.reindexProgress = null;
      const idle = await metrics.render();
      assert.equal(sample(idle, METRIC_NAMES.reindexRunning), 0);
      assert.ok(!idle.includes(`${METRIC_NAMES.reindexPhase}{`), 'no phase once the run is over');
    } finally {
      metrics.close();
    }
  });

  test('GIVEN a second registry in the same process THEN both render (no global registry)', async () => {
    const a = createProcessMetrics();
    const b = createProcessMetrics();
    try {
      a.observer.request('discord', 'RATE_LIMITED', 0.01);
      const textA = await a.render();
      const textB = await b.render();
      assert.equal(sample(textA, `${METRIC_NAMES.requests}{surface="discord",outcome="RATE_LIMITED"}`), 1);
      assert.equal(sample(textB, `${METRIC_NAMES.requests}{surface="discord",outcome="RATE_LIMITED"}`), undefined);
    } finally {
      a.close();
      b.close();
    }
  });

  test('GIVEN the event loop blocked for 200 ms THEN the lag monitor reports it', async () => {
    const monitor = startEventLoopMonitor({ resolutionMs: 10, windowMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const until = performance.now() + 200;
      while (performance.now() < until) {
        // busy: nothing else may run
      }
      await new Promise((r) => setTimeout(r, 50));
      const lag = monitor.lag();
      assert.ok(lag.samples > 0);
      assert.ok(lag.max >= 0.15, `max lag ${lag.max} s after a 200 ms block`);
      assert.ok(lag.p50 < lag.max);
    } finally {
      monitor.stop();
    }
  });
});
