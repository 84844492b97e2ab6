/**
 * EmbedderPool with stand-in worker threads (fake-worker.mjs, no model): a worker that keeps
 * failing to restart leaves the embedder broken, and dispose does not wait forever for a worker
 * that hangs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  EmbedderPool,
  MAX_FAILED_STARTS,
  type Manifest,
  type PoolConfig,
  resolvePreprocessOptions,
  type SpawnWorker,
} from '@lookalike/embedder';
import { rejectsWith } from '../helpers/assert.js';
import { recordingLogger } from '../helpers/recording-logger.js';

type Mode = 'ok' | 'hang' | 'fail-start' | 'exit-start';

const FAKE_WORKER = new URL('./fake-worker.mjs', import.meta.url);
const IMAGE = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);

/** A spawn function whose workers behave as `modeOf` says; records the modes it started. */
function fakeSpawn(modeOf: (name: string, nth: number) => Mode): { spawn: SpawnWorker; started: string[] } {
  const started: string[] = [];
  const counts = new Map<string, number>();
  const spawn: SpawnWorker = (name) => {
    const nth = counts.get(name) ?? 0;
    counts.set(name, nth + 1);
    const mode = modeOf(name, nth);
    started.push(`${name} ${mode}`);
    // Plain JS: none of the parent's --import preloads (tsx, the exit guard) are needed.
    return new Worker(FAKE_WORKER, { workerData: { name, mode }, execArgv: [] });
  };
  return { spawn, started };
}

function poolConfig(spawn: SpawnWorker, closeTimeoutMs?: number): PoolConfig {
  const preprocessing = resolvePreprocessOptions();
  return {
    decode: { preprocessing, concurrency: 1 },
    inference: {
      modelsDir: 'unused',
      manifest: {} as Manifest,
      runtime: 'onnx',
      threads: 1,
      spinning: false,
      warmup: false,
      batchSize: 8,
      batchSliceSize: 4,
    },
    workers: 1,
    maxInFlight: 4,
    preprocessing,
    spawn,
    ...(closeTimeoutMs === undefined ? {} : { closeTimeoutMs }),
  };
}

describe('restarts', () => {
  test('GIVEN an inference worker that dies and then fails to start three times THEN the embedder is broken and every call rejects INTERNAL', async () => {
    const restartModes: Mode[] = ['fail-start', 'exit-start', 'fail-start'];
    const { spawn, started } = fakeSpawn((name, nth) =>
      name === 'decode-worker' ? 'hang' : nth === 0 ? 'ok' : (restartModes[nth - 1] ?? 'ok'),
    );
    const log = recordingLogger();
    const pool = new EmbedderPool(poolConfig(spawn), log);
    await pool.start();
    try {
      // Held by the (stuck) decode worker for inference worker 0, which then dies.
      const held = pool.embed([IMAGE], 'batch');
      pool.crash('inference', 'exit');
      const lost = await rejectsWith(held, 'INTERNAL');
      assert.match(lost.message, /inference-worker stopped unexpectedly/);

      // Waits for an inference worker that never comes back.
      const waiting = pool.embed([IMAGE], 'interactive');
      const broken = await rejectsWith(waiting, 'INTERNAL');
      assert.match(broken.message, /workers cannot start/);
      assert.deepEqual(started, [
        'decode-worker hang',
        'inference-worker ok',
        'inference-worker fail-start',
        'inference-worker exit-start',
        'inference-worker fail-start',
      ]);
      assert.equal(started.length - 2, MAX_FAILED_STARTS);
      const lines = log.lines();
      assert.equal(lines.filter((l) => l === 'error embedder is broken: its workers fail to start').length, 1);
      assert.equal(lines.filter((l) => l === 'error embedder worker failed to start').length, 2);
      assert.equal(lines.filter((l) => l === 'error embedder worker died while starting').length, 1);

      // Later calls reject at once with the same error; nothing waits.
      const later = await rejectsWith(pool.embed([IMAGE], 'batch'), 'INTERNAL');
      assert.equal(later.message, broken.message);
      assert.deepEqual(pool.stats.queued, { interactive: 0, batch: 0 });
      assert.equal(pool.stats.restarts, 1);
    } finally {
      await pool.close();
    }
  });

  test('GIVEN a worker that fails its first start THEN start rejects with the code that worker reported', async () => {
    const { spawn } = fakeSpawn((name) => (name === 'decode-worker' ? 'ok' : 'fail-start'));
    const pool = new EmbedderPool(poolConfig(spawn), recordingLogger());
    await rejectsWith(pool.start(), 'MODEL_INVALID');
  });
});

describe('dispose', () => {
  test('GIVEN a worker that hangs on an image WHEN disposing THEN the image rejects INTERNAL after the close timeout and the workers are terminated', async () => {
    const { spawn } = fakeSpawn((name) => (name === 'decode-worker' ? 'hang' : 'ok'));
    const log = recordingLogger();
    const pool = new EmbedderPool(poolConfig(spawn, 200), log);
    await pool.start();
    const stuck = rejectsWith(pool.embed([IMAGE], 'interactive'), 'INTERNAL');
    await pool.close();
    const err = await stuck;
    assert.equal(err.details.outstanding, 1);
    const lines = log.lines();
    assert.ok(
      lines.includes(
        'warn embedder dispose timed out with images outstanding; rejecting them and terminating the workers',
      ),
      lines.join('\n'),
    );
    await rejectsWith(pool.embed([IMAGE], 'interactive'), 'INTERNAL');
  });
});
