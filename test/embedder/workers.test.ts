/**
 * The embedder's worker threads: a worker that dies rejects the images it held with INTERNAL and
 * is restarted; the caller's bytes are copied, never detached; dispose leaves nothing that keeps
 * the process alive (a child process must exit on its own).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEmbedder, EMBEDDER_TEST_HOOKS, type ImageEmbedder } from '@lookalike/embedder';
import { ensureUntrainedModels } from '../helpers/models.js';
import { REPO_ROOT } from '../helpers/process.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { blocky, fromRaw, maxAbsDiff } from './fixtures.js';

let modelsDir: string;
let embedder: ImageEmbedder;
const log = recordingLogger();
let photos: Buffer[];

before(async () => {
  modelsDir = await ensureUntrainedModels();
  embedder = await createEmbedder({ modelsDir, logger: log, warnUntrained: false });
  photos = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      fromRaw(blocky(160, 120, 5 + i, i))
        .jpeg()
        .toBuffer(),
    ),
  );
});

after(async () => {
  await embedder?.dispose();
});

describe('worker crash', () => {
  for (const [kind, mode] of [
    ['inference', 'exit'],
    ['decode', 'throw'],
  ] as const) {
    test(`GIVEN the ${kind} worker dies (${mode}) with images in flight THEN those reject INTERNAL and the worker is restarted`, async () => {
      const [reference] = await embedder.embed([photos[0] as Buffer]);
      const restarts = embedder.stats.restarts;
      const pending = photos.map((p) => embedder.embed([p], { priority: 'batch' }));
      embedder[EMBEDDER_TEST_HOOKS].crashWorker(kind, mode);
      const settled = await Promise.allSettled(pending);
      const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      assert.ok(rejected.length > 0, 'the images the worker held were rejected');
      for (const r of rejected) {
        assert.equal(r.reason.code, 'INTERNAL', r.reason.message);
        assert.match(r.reason.message, new RegExp(`${kind}-worker stopped unexpectedly`));
      }
      assert.equal(embedder.stats.restarts, restarts + 1);
      assert.ok(log.lines().includes('error embedder worker died; restarting it'), log.lines().join('\n'));
      // The restarted worker serves new calls, with the same result as before.
      const [again] = await embedder.embed([photos[0] as Buffer]);
      assert.ok(maxAbsDiff(reference as Float32Array, again as Float32Array) < 1e-6);
      assert.deepEqual(embedder.stats.queued, { interactive: 0, batch: 0 });
    });
  }
});

describe('two inference workers', () => {
  test("GIVEN workers: 2 and threads: 8 THEN threads × workers ≤ cores and the vectors equal one worker's", async () => {
    const reference = await embedder.embed(photos);
    const two = await createEmbedder({ modelsDir, workers: 2, threads: 8, warnUntrained: false });
    try {
      const cores = availableParallelism();
      const workers = Math.min(2, cores);
      const threads = Math.floor(cores / workers);
      assert.ok(
        two.runtimeDetail.endsWith(
          `(cpu, ${threads} intra-op threads), ${workers} inference worker${workers === 1 ? '' : 's'}`,
        ),
        two.runtimeDetail,
      );
      const vectors = await Promise.all(photos.map((p) => two.embed([p], { priority: 'batch' })));
      vectors.forEach(([v], i) => {
        assert.ok(maxAbsDiff(v as Float32Array, reference[i] as Float32Array) < 1e-5, `image ${i}`);
      });
    } finally {
      await two.dispose();
    }
  });
});

describe('bytes in, vectors out', () => {
  test("GIVEN a caller's Buffer and Uint8Array views THEN they are copied, never detached, and vectors own their buffers", async () => {
    const jpeg = photos[1] as Buffer;
    const slab = Buffer.from(jpeg); // may live in Node's shared Buffer pool
    const wide = new Uint8Array(jpeg.length + 100);
    wide.set(jpeg, 50);
    const view = wide.subarray(50, 50 + jpeg.length); // part of a larger buffer
    const whole = new Uint8Array(jpeg); // a buffer of its own, which a transfer would detach
    const [a, b, c] = await embedder.embed([slab, view, whole]);
    assert.equal(slab.byteLength, jpeg.length);
    assert.equal(whole.byteLength, jpeg.length);
    assert.equal(whole.buffer.byteLength, jpeg.length);
    assert.equal(wide.byteLength, jpeg.length + 100);
    assert.ok(Buffer.from(whole).equals(jpeg));
    for (const v of [a, b, c]) {
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, 2048);
      assert.equal(v.buffer.byteLength, 2048 * 4, 'one vector per buffer');
    }
    assert.ok(maxAbsDiff(a as Float32Array, b as Float32Array) < 1e-6);
    assert.ok(maxAbsDiff(a as Float32Array, c as Float32Array) < 1e-6);
  });
});

describe('dispose', () => {
  test('GIVEN a process that embeds then disposes THEN it exits on its own with no handles left', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'test/embedder/dispose-child.ts'), modelsDir],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    // Generous: a hang (a leaked handle) fails here instead of stalling the suite.
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    clearTimeout(killer);
    assert.equal(signal, null, `the child had to be killed: it did not exit after dispose\n${err}`);
    assert.equal(code, 0, err);
    const report = JSON.parse(out.trim().split('\n').at(-1) as string) as { during: string[]; after: string[] };
    assert.ok(report.during.includes('MessagePort'), `workers held the process while busy: ${report.during}`);
    // Only the child's own stdout/stderr pipes may remain.
    assert.deepEqual(
      report.after.filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap'),
      [],
    );
  });
});
