/**
 * `npm run bench:embed`: embedding through the worker threads on this machine, untrained
 * ResNet50 (same FLOPs as the real weights), on the sample JPEGs in
 * /work/shared/data/fashion-sample/images when present, else on generated JPEGs.
 *
 *   - preprocessing rate on one thread (sharp decode + PIL-nearest resize + caffe), for scale;
 *   - throughput, img/s, of catalog-style work: one image per `embed(…, { priority: 'batch' })`
 *     call, many calls in flight, decoding in the decode worker overlapping inference — onnx at
 *     batch 8 with slices of 4 (the default) and 8, onnx with 2 workers × 1 thread, tfjs at batch 8;
 *   - the interactive wait: p50/p99 of one interactive `embed` at a time, idle and while a batch
 *     flood is queued, with the main thread's event-loop delay during the flood (1 worker × all
 *     cores, and 2 workers × 1 thread);
 *   - the ratios onnx/tfjs and flood/idle;
 *   - int8 (`quantizeModels`, calibrated on 64 sample images): throughput at batch 8 beside fp32,
 *     and on every sample image (--eval-images N) cosine(int8, fp32) mean/min and the top-6
 *     neighbour overlap of an int8 catalog with the fp32 one;
 *   - the machine limit: fp32 GFLOP/s of a large ORT MatMul (MLAS sgemm), with ResNet50 fp32 and
 *     int8 as a fraction of it (4.1 GMAC = 8.2 GFLOP per image).
 *
 * Prints figures only; asserts nothing. Options: --quick (fewer images), --images N,
 * --eval-images N, --only-int8 (skip the tfjs, slice and interactive rows).
 */
import { existsSync, readdirSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  createEmbedder,
  type EmbedderOptions,
  type ImageEmbedder,
  preprocessImage,
  quantizeModels,
} from '@lookalike/embedder';
import { blocky, fromRaw, raw } from '../embedder/fixtures.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { rng } from '../helpers/rng.js';
import { matMulGflops } from './machine-limit.js';

const SAMPLE_DIR = '/work/shared/data/fashion-sample/images';
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    images: { type: 'string' },
    'eval-images': { type: 'string' },
    'only-int8': { type: 'boolean' },
  },
  strict: true,
});
const quick = values.quick === true;
const imageCount = Number(values.images ?? (quick ? 48 : 160));
const evalCount = Number(values['eval-images'] ?? (quick ? 96 : 100_000));
const onlyInt8 = values['only-int8'] === true;
/** ResNet50 at 224×224: 4.1 GMAC per image. */
const RESNET50_GFLOP = 8.2;

/** A models dir of hard links to the untrained files, quantized on 64 images of `dir`. */
async function int8ModelsDir(fp32Dir: string, calibrationDir: string): Promise<{ dir: string; seconds: number }> {
  const dir = join(TEST_TMP_DIR, `bench-int8-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  for (const e of await readdir(fp32Dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const src = join(e.parentPath, e.name);
    const dst = join(dir, src.slice(fp32Dir.length));
    await mkdir(join(dst, '..'), { recursive: true });
    await link(src, dst);
  }
  const t0 = performance.now();
  await quantizeModels({ modelsDir: dir, calibrationDir, images: 64 });
  return { dir, seconds: (performance.now() - t0) / 1000 };
}

function dot(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += (a[i] as number) * (b[i] as number);
  return d;
}

/** The k nearest others of every vector (by inner product of unit vectors), brute force. */
function topK(vectors: Float32Array[], k: number): number[][] {
  return vectors.map((q, i) => {
    const best: { j: number; s: number }[] = [];
    for (let j = 0; j < vectors.length; j++) {
      if (j === i) continue;
      const s = dot(q, vectors[j] as Float32Array);
      if (best.length < k || s > (best.at(-1)?.s ?? -2)) {
        best.push({ j, s });
        best.sort((x, y) => y.s - x.s || x.j - y.j);
        if (best.length > k) best.pop();
      }
    }
    return best.map((b) => b.j);
  });
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function sampleImages(): Promise<{ images: Buffer[]; source: string }> {
  if (existsSync(SAMPLE_DIR)) {
    const files = readdirSync(SAMPLE_DIR)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .slice(0, imageCount)
      .map((f) => join(SAMPLE_DIR, f));
    if (files.length > 0) {
      const images = await Promise.all(files.map((f) => readFile(f)));
      return { images, source: `${files.length} sample JPEGs (${SAMPLE_DIR})` };
    }
  }
  const r = rng(5);
  const images = await Promise.all(
    Array.from({ length: imageCount }, (_, i) =>
      (i % 2 === 0
        ? fromRaw(blocky(225, 300, 8, i))
        : fromRaw(raw(300, 225, 3, () => [r() * 255, r() * 255, r() * 255]))
      )
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  );
  return { images, source: `${images.length} generated JPEGs (225×300 / 300×225)` };
}

interface Throughput {
  rate: number;
  /** Process CPU seconds (all threads, workers included) per image. */
  cpuPerImage: number;
}

/** img/s of catalog-style work: one image per batch-priority call, all in flight at once. */
async function throughput(e: ImageEmbedder, images: Buffer[]): Promise<Throughput> {
  await Promise.all(images.slice(0, 8).map((img) => e.embed([img], { priority: 'batch' })));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(images.map((img) => e.embed([img], { priority: 'batch' })));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rate: images.length / secs, cpuPerImage: (cpu.user + cpu.system) / 1e6 / images.length };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Wait {
  p50: number;
  p99: number;
  max: number;
}

/** Latencies (ms) of `n` interactive embeds, one at a time, `gapMs` apart. */
async function interactiveWait(e: ImageEmbedder, images: Buffer[], n: number, gapMs: number): Promise<Wait> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await e.embed([images[(i * 7) % images.length] as Buffer]);
    ms.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1) ?? Number.NaN };
}

/** Keeps `depth` batch images queued until stopped; returns how many it embedded. */
function flood(e: ImageEmbedder, images: Buffer[], depth: number): { stop: () => Promise<number> } {
  let running = true;
  let done = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (running) {
      await e.embed([images[next++ % images.length] as Buffer], { priority: 'batch' });
      done++;
    }
  };
  const lanes = Array.from({ length: depth }, lane);
  return {
    stop: async () => {
      running = false;
      await Promise.all(lanes);
      return done;
    },
  };
}

async function withEmbedder<T>(options: EmbedderOptions, fn: (e: ImageEmbedder) => Promise<T>): Promise<T> {
  const e = await createEmbedder({ warnUntrained: false, ...options });
  try {
    return await fn(e);
  } finally {
    await e.dispose();
  }
}

async function main(): Promise<void> {
  const modelsDir = await ensureUntrainedModels();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `embed bench — ${cpus().length} cores (${cpu}), Node ${process.version}, untrained ResNet50 from ${modelsDir}`,
  );
  console.log(`load average at start: ${load()}${quick ? ' (quick mode)' : ''}`);
  console.log('on a shared or busy machine wall-clock figures drop; cpu-s/img (all threads) shows the work per image');

  const { images, source } = await sampleImages();
  console.log(`images: ${source}`);
  const calibrationDir = existsSync(SAMPLE_DIR) ? SAMPLE_DIR : undefined;
  const int8 =
    calibrationDir === undefined
      ? undefined
      : await int8ModelsDir(modelsDir, calibrationDir).catch((err: unknown) => {
          console.log(`int8: quantize failed: ${String(err)}`);
          return undefined;
        });
  if (int8 !== undefined)
    console.log(`int8: quantized in ${fmt(int8.seconds)} s (percentile 99.999 on 64 sample images, untrained weights)`);

  // Preprocessing on one thread, for scale.
  await preprocessImage(images[0] as Buffer);
  const prepN = Math.min(images.length, quick ? 24 : 64);
  const p0 = performance.now();
  for (const img of images.slice(0, prepN)) await preprocessImage(img);
  const prepRate = prepN / ((performance.now() - p0) / 1000);
  console.log(`\npreprocessing, one at a time on one thread: ${fmt(prepRate)} img/s`);

  console.log('\nthroughput through the workers (one image per batch-priority call, all in flight):');
  const rows: { name: string; r: Throughput }[] = [];
  const run = async (name: string, options: Omit<EmbedderOptions, 'modelsDir'>, sample = images): Promise<void> => {
    const r = await withEmbedder({ modelsDir, ...options }, async (e) => {
      const t = await throughput(e, sample);
      console.log(
        `  ${name.padEnd(34)} ${fmt(t.rate).padStart(6)} img/s  ${t.cpuPerImage.toFixed(3)} cpu-s/img  (${e.runtimeDetail})`,
      );
      return t;
    });
    rows.push({ name, r });
  };
  const runInt8 = async (name: string, options: Omit<EmbedderOptions, 'modelsDir'>): Promise<void> => {
    if (int8 === undefined) return;
    const t = await withEmbedder({ modelsDir: int8.dir, precision: 'int8', ...options }, (e) => throughput(e, images));
    console.log(
      `  ${name.padEnd(34)} ${fmt(t.rate).padStart(6)} img/s  ${t.cpuPerImage.toFixed(3)} cpu-s/img  (int8 QDQ → QLinearConv)`,
    );
    rows.push({ name, r: t });
  };
  if (!onlyInt8) await run('onnx batch 8, slice 4 (default)', { runtime: 'onnx', batchSize: 8 });
  // fp32 and int8 alternate, twice, so drifting load on a shared machine hits both alike.
  await run('onnx batch 8, slice 8', { runtime: 'onnx', batchSize: 8, batchSliceSize: 8 });
  await runInt8('int8 batch 8, slice 8', { batchSize: 8, batchSliceSize: 8 });
  await run('onnx batch 8, slice 8 (again)', { runtime: 'onnx', batchSize: 8, batchSliceSize: 8 });
  await runInt8('int8 batch 8, slice 8 (again)', { batchSize: 8, batchSliceSize: 8 });
  if (!onlyInt8) {
    await runInt8('int8 batch 8, slice 4', { batchSize: 8 });
    await run('onnx batch 8, slice 8, 2 workers × 1', {
      runtime: 'onnx',
      batchSize: 8,
      batchSliceSize: 8,
      workers: 2,
      threads: 1,
    });
    const tfjsSample = images.slice(0, quick ? 16 : 32);
    await run('tfjs batch 8, slice 8', { runtime: 'tfjs', batchSize: 8, batchSliceSize: 8 }, tfjsSample);
  }

  const gflops = await matMulGflops(cpus().length);
  console.log(
    `\nmachine limit: fp32 MatMul 1536³ on ORT (MLAS sgemm, ${cpus().length} threads): ${fmt(gflops)} GFLOP/s`,
  );
  const rateOf = (name: string) => rows.find((r) => r.name === name)?.r.rate ?? Number.NaN;
  const mean2 = (a: string) => (rateOf(a) + rateOf(`${a} (again)`)) / 2;
  const f8 = mean2('onnx batch 8, slice 8');
  const i8 = mean2('int8 batch 8, slice 8');
  console.log(
    `  ResNet50 fp32 at batch 8: ${fmt(f8 * RESNET50_GFLOP)} GFLOP/s = ${(((f8 * RESNET50_GFLOP) / gflops) * 100).toFixed(0)}% of it`,
  );
  if (int8 !== undefined) {
    console.log(
      `  ResNet50 int8 at batch 8: ${fmt(i8 * RESNET50_GFLOP)} GOP/s = ${(((i8 * RESNET50_GFLOP) / gflops) * 100).toFixed(0)}% of the fp32 limit; int8/fp32 ${fmt(i8 / f8)}× (mean of 2 alternating runs each: fp32 ${fmt(rateOf('onnx batch 8, slice 8'))}, ${fmt(rateOf('onnx batch 8, slice 8 (again)'))}; int8 ${fmt(rateOf('int8 batch 8, slice 8'))}, ${fmt(rateOf('int8 batch 8, slice 8 (again)'))} img/s)`,
    );
  }

  if (int8 !== undefined && calibrationDir !== undefined) {
    const files = readdirSync(SAMPLE_DIR)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .slice(0, evalCount)
      .map((f) => join(SAMPLE_DIR, f));
    const embedAll = (options: EmbedderOptions) =>
      withEmbedder(options, (e) =>
        Promise.all(files.map((f) => e.embed([f], { priority: 'batch' }).then((v) => v[0] as Float32Array))),
      );
    const t0 = performance.now();
    const a = await embedAll({ modelsDir, batchSize: 8, batchSliceSize: 8 });
    const b = await embedAll({ modelsDir: int8.dir, precision: 'int8', batchSize: 8, batchSliceSize: 8 });
    const cos = a.map((v, i) => dot(v, b[i] as Float32Array));
    const mean = cos.reduce((x, y) => x + y, 0) / cos.length;
    const ta = topK(a, 6);
    const tb = topK(b, 6);
    const overlap = ta.map((n, i) => n.filter((j) => (tb[i] as number[]).includes(j)).length);
    const meanOverlap = overlap.reduce((x, y) => x + y, 0) / overlap.length;
    const fp32Spread = a.slice(0, 200).map((v, i) => dot(v, a[(i + 1) % a.length] as Float32Array));
    console.log(
      `\nint8 vs fp32 on ${files.length} sample photos (untrained weights; the 64 calibration photos are among them; ${fmt((performance.now() - t0) / 1000)} s):`,
    );
    console.log(`  cosine(int8, fp32): mean ${mean.toFixed(5)}, min ${Math.min(...cos).toFixed(5)}`);
    console.log(
      `  top-6 overlap (int8 catalog vs fp32 catalog, leave-one-out): mean ${meanOverlap.toFixed(3)} of 6, all 6 for ${overlap.filter((o) => o === 6).length}, ≤ 3 for ${overlap.filter((o) => o <= 3).length}`,
    );
    console.log(
      `  for scale: cosine between neighbouring different photos under fp32, mean ${(fp32Spread.reduce((x, y) => x + y, 0) / fp32Spread.length).toFixed(4)} (untrained weights put all photos close together)`,
    );
  }
  if (int8 !== undefined) await rm(int8.dir, { recursive: true, force: true });
  if (onlyInt8) return;

  console.log('\ninteractive wait (one query at a time, 100 ms apart), onnx:');
  const n = quick ? 12 : 40;
  const line = (name: string, w: Wait) =>
    console.log(
      `  ${name.padEnd(40)} p50 ${fmt(w.p50).padStart(6)} ms   p99 ${fmt(w.p99).padStart(6)} ms   max ${fmt(w.max)} ms`,
    );
  const measureWaits = (label: string, options: Omit<EmbedderOptions, 'modelsDir'>) =>
    withEmbedder({ modelsDir, runtime: 'onnx', ...options }, async (e) => {
      const idle = await interactiveWait(e, images, n, 100);
      const h = monitorEventLoopDelay({ resolution: 5 });
      const f = flood(e, images, 16);
      await new Promise((resolve) => setTimeout(resolve, 500));
      h.enable();
      const t0 = performance.now();
      const busy = await interactiveWait(e, images, n, 100);
      h.disable();
      const secs = (performance.now() - t0) / 1000;
      const batchDone = await f.stop();
      line(`${label}, idle`, idle);
      line(`${label}, during a batch flood`, busy);
      console.log(
        `    batch work went on at ≈ ${fmt(batchDone / secs)} img/s; main event-loop delay meanwhile: p99 ${fmt(h.percentile(99) / 1e6)} ms, max ${fmt(h.max / 1e6)} ms`,
      );
      return { idle, busy };
    });
  const waits = await measureWaits('default (1 worker, slice 4)', {});
  const waits21 = await measureWaits('2 workers × 1, slice 4', { workers: 2, threads: 1 });

  const rate = rateOf;
  const o4 = rate('onnx batch 8, slice 4 (default)');
  const o8 = rate('onnx batch 8, slice 8');
  const o21 = rate('onnx batch 8, slice 8, 2 workers × 1');
  const t8 = rate('tfjs batch 8, slice 8');
  console.log(`\nsummary (load average now ${load()}):`);
  console.log(`  onnx/tfjs at batch 8            ${fmt(o8 / t8)}×  (${fmt(o8)} vs ${fmt(t8)} img/s)`);
  if (int8 !== undefined)
    console.log(`  int8/fp32 at batch 8            ${fmt(i8 / f8)}×  (${fmt(i8)} vs ${fmt(f8)} img/s)`);
  console.log(`  slice 4 / slice 8               ${fmt(o4 / o8)}×`);
  console.log(`  2 workers × 1 / 1 worker × all  ${fmt(o21 / o8)}×`);
  console.log(
    `  interactive p99 flood/idle      ${fmt(waits.busy.p99 / waits.idle.p99)}×  (p50 ${fmt(waits.busy.p50 / waits.idle.p50)}×)`,
  );
  console.log(
    `  interactive p50 idle, 2×1 / 1×all ${fmt(waits21.idle.p50 / waits.idle.p50)}×; during a flood ${fmt(waits21.busy.p50 / waits.busy.p50)}×`,
  );
}

await main();
