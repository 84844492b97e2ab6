/**
 * Scheduling through the real worker threads: interactive requests overtake queued batch work
 * (asserted on the ORDER of completion), queue depth per class, per-image failures keep their
 * code, details and user sentence across the thread boundary, and the main thread's event loop
 * stays free while a long batch runs.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { LookalikeError, USER_MESSAGES } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { rejectsWith } from '../helpers/assert.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { rng } from '../helpers/rng.js';
import { blocky, bombPng, fromRaw, raw } from './fixtures.js';

const SLICE = 2;
const dir = join(TEST_TMP_DIR, `embedder-priority-${process.pid}`);
let modelsDir: string;
let embedder: ImageEmbedder;

/** `n` distinct small JPEGs. */
function images(n: number, seed: number): Promise<Buffer[]> {
  const r = rng(seed);
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      fromRaw(raw(96 + (i % 5) * 8, 80, 3, () => [r() * 255, (i * 37) % 255, r() * 255]))
        .jpeg()
        .toBuffer(),
    ),
  );
}

/** Resolves once `cond` holds (checked every few ms; no time limit beyond the test's own). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 2));
}

before(async () => {
  modelsDir = await ensureUntrainedModels();
  embedder = await createEmbedder({ modelsDir, batchSize: 8, batchSliceSize: SLICE });
  await mkdir(dir, { recursive: true });
});

after(async () => {
  await embedder?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('priority classes', () => {
  test('GIVEN 30 queued batch images WHEN an interactive one arrives THEN it completes after at most a few batch slices', async (t) => {
    const flood = await images(30, 1);
    const [query] = await images(1, 2);
    const order: string[] = [];
    const batch = flood.map((img, i) =>
      embedder.embed([img], { priority: 'batch' }).then(() => {
        order.push(`b${i}`);
      }),
    );
    assert.deepEqual(embedder.stats.queued, { interactive: 0, batch: 30 });
    // Let the flood reach the model, so the interactive image really competes with it.
    await until(() => embedder.stats.running > 0 || order.length > 0);
    const doneBefore = order.length;
    const interactive = embedder.embed([query as Buffer]).then(() => {
      order.push('i');
    });
    assert.equal(embedder.stats.queued.interactive, 1);
    await Promise.all([...batch, interactive]);

    const overtaken = order.indexOf('i') - doneBefore;
    // It waits for the slice on the model and, at worst, the next one (its decode may still be
    // running when that slice starts); never for the queue.
    assert.ok(overtaken <= 2 * SLICE, `${overtaken} batch images finished first: ${order.join(' ')}`);
    t.diagnostic(`completion order: ${order.join(' ')} (interactive submitted after ${doneBefore})`);
    assert.deepEqual(embedder.stats.queued, { interactive: 0, batch: 0 });
    assert.equal(embedder.stats.running, 0);
    assert.ok(embedder.stats.maxBatch <= 8);
  });

  test('GIVEN several interactive images at once THEN they are coalesced into a shared batch', async () => {
    const batchesBefore = embedder.stats.batches;
    const imgs = await images(6, 3);
    const vectors = await Promise.all(imgs.map((img) => embedder.embed([img])));
    assert.equal(vectors.length, 6);
    assert.ok(embedder.stats.batches - batchesBefore < 6, 'fewer batches than images');
  });
});

describe('per-image failures across the thread boundary', () => {
  test('GIVEN bad images among batch work THEN only their own callers reject, with code, details and sentence', async () => {
    const good = await images(6, 4);
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
      Buffer.alloc(64, 1),
    ]);
    const jpeg = good[0] as Buffer;
    const bad: [number, Uint8Array | string, string][] = [
      [1, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'UNSUPPORTED_IMAGE'],
      [3, jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'IMAGE_DECODE_FAILED'],
      [5, await bombPng(), 'IMAGE_TOO_LARGE'],
      [7, heic, 'IMAGE_DECODE_FAILED'],
      [8, join(dir, 'missing.jpg'), 'IMAGE_DECODE_FAILED'],
    ];
    const inputs: (Uint8Array | string)[] = [...good];
    for (const [at, input] of bad) inputs.splice(at, 0, input);
    const settled = await Promise.allSettled(inputs.map((input) => embedder.embed([input], { priority: 'batch' })));

    const codeAt = new Map(bad.map(([at, , code]) => [at, code]));
    settled.forEach((s, i) => {
      const code = codeAt.get(i);
      if (code === undefined) {
        assert.equal(s.status, 'fulfilled', `input ${i}`);
        return;
      }
      assert.equal(s.status, 'rejected', `input ${i}`);
      const err = (s as PromiseRejectedResult).reason;
      assert.ok(err instanceof LookalikeError, `input ${i} is a LookalikeError on the main thread`);
      assert.equal(err.code, code, `input ${i}: ${err.message}`);
    });
    const reason = (i: number) => (settled[i] as PromiseRejectedResult).reason as LookalikeError;
    assert.equal(reason(1).userMessage, USER_MESSAGES.UNSUPPORTED_IMAGE);
    assert.equal(reason(7).userMessage, USER_MESSAGES.IMAGE_DECODE_FAILED);
    assert.equal(reason(7).details.format, 'heic', 'a HEIC goes to libheif-js, which finds no image in it');
    assert.equal(reason(5).details.width, 20000, 'details survive the thread boundary');
    assert.match(reason(5).userMessage, /under .* and .* megapixels/);
    assert.equal(reason(8).details.path, join(dir, 'missing.jpg'));
  });

  test('GIVEN one bad image in a multi-image interactive call THEN the call rejects with that code', async () => {
    const [a, b] = await images(2, 5);
    await rejectsWith(embedder.embed([a as Buffer, Buffer.from('plain text'), b as Buffer]), 'UNSUPPORTED_IMAGE');
    // The embedder keeps working.
    assert.equal((await embedder.embed([a as Buffer]))[0]?.length, 2048);
  });
});

describe('main thread', () => {
  test('GIVEN a long batch run from paths THEN the main event loop never stalls (max delay < 500 ms)', async () => {
    const files: string[] = [];
    for (let i = 0; i < 40; i++) {
      const path = join(dir, `photo-${i}.jpg`);
      await writeFile(
        path,
        await fromRaw(blocky(320 + (i % 4) * 40, 240, 6 + (i % 5), i))
          .jpeg()
          .toBuffer(),
      );
      files.push(path);
    }
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const vectors = await Promise.all(files.map((f) => embedder.embed([f], { priority: 'batch' })));
    h.disable();
    assert.equal(vectors.length, 40);
    const maxMs = h.max / 1e6;
    assert.ok(maxMs < 500, `event-loop delay max ${maxMs.toFixed(1)} ms`);
  });
});
