/**
 * `npm run bench:embed`: embedding throughput on this machine, all in one run, untrained
 * ResNet50 (same FLOPs as the real weights).
 *
 *   - preprocessing rate (sharp decode + PIL-nearest resize + caffe), on the sample JPEGs in
 *     /work/shared/data/fashion-sample/images when present, else on generated JPEGs;
 *   - onnx (onnxruntime-node) img/s at batch 1, 8, 32, plus the cheap ORT knobs at batch 8
 *     (1 vs 2 intra-op threads, thread spinning);
 *   - tfjs img/s at batch 1, 8 (and 32 unless --quick), on tfjs-node or wasm;
 *   - the ratio onnx/tfjs at equal batch size.
 *
 * Inference figures use `embedPrepared` on already-preprocessed tensors, so they measure the
 * model (plus the batcher's copy), not decoding. Prints figures only; asserts nothing.
 * Options: --quick (fewer images, no tfjs batch 32), --images N (preprocessing sample size).
 */
import { existsSync, readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbedder, type ImageEmbedder, preprocessImage } from '@lookalike/embedder';
import { blocky, fromRaw, raw } from '../embedder/fixtures.js';
import { ensureUntrainedModels } from '../helpers/models.js';
import { rng } from '../helpers/rng.js';

const SAMPLE_DIR = '/work/shared/data/fashion-sample/images';
const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, images: { type: 'string' } },
  strict: true,
});
const quick = values.quick === true;
const preprocessCount = Number(values.images ?? (quick ? 200 : 500));

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

/** Runs in bounded parallelism (like the embedder's decode pool). */
async function pool<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

async function preprocessInputs(): Promise<{ inputs: (string | Buffer)[]; source: string }> {
  if (existsSync(SAMPLE_DIR)) {
    const files = readdirSync(SAMPLE_DIR)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .slice(0, preprocessCount)
      .map((f) => join(SAMPLE_DIR, f));
    if (files.length > 0) return { inputs: files, source: `${files.length} sample JPEGs (${SAMPLE_DIR})` };
  }
  const r = rng(5);
  const inputs = await Promise.all(
    Array.from({ length: Math.min(preprocessCount, 200) }, (_, i) =>
      (i % 2 === 0
        ? fromRaw(blocky(225, 300, 8, i))
        : fromRaw(raw(300, 225, 3, () => [r() * 255, r() * 255, r() * 255]))
      )
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  );
  return { inputs, source: `${inputs.length} generated JPEGs (225×300 / 300×225)` };
}

interface Rate {
  /** Images per wall-clock second. */
  rate: number;
  /** Process CPU seconds (all threads) per image: shows contention on a shared machine. */
  cpuPerImage: number;
}

/** img/s of `embedPrepared` over `count` images (after one warm-up batch). */
async function inferenceRate(e: ImageEmbedder, tensors: Float32Array[], batch: number, count: number): Promise<Rate> {
  const pick = (n: number) => Array.from({ length: n }, (_, i) => tensors[i % tensors.length] as Float32Array);
  await e.embedPrepared(pick(batch));
  const cpu0 = process.cpuUsage();
  const [, secs] = await timed(() => e.embedPrepared(pick(count)));
  const cpu = process.cpuUsage(cpu0);
  return { rate: count / secs, cpuPerImage: (cpu.user + cpu.system) / 1e6 / count };
}

async function main(): Promise<void> {
  const modelsDir = await ensureUntrainedModels();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `embed bench — ${cpus().length} cores (${cpu}), Node ${process.version}, untrained ResNet50 from ${modelsDir}`,
  );
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(`load average at start: ${load}${quick ? ' (quick mode)' : ''}`);
  console.log('on a shared or busy machine wall-clock img/s drop; cpu-s/img (all threads) shows the work per image');

  // Preprocessing.
  const { inputs, source } = await preprocessInputs();
  await preprocessImage(inputs[0] as string | Buffer);
  const [tensors, prepSecs] = await timed(() => pool(inputs, 4, (x) => preprocessImage(x)));
  const prepRate = inputs.length / prepSecs;
  console.log(`\npreprocessing: ${fmt(prepRate)} img/s  (${source}, 4 concurrent)`);

  const results: { runtime: string; batch: number; note: string; rate: number; cpu: number }[] = [];
  const record = (runtime: string, batch: number, note: string, r: Rate) => {
    results.push({ runtime, batch, note, rate: r.rate, cpu: r.cpuPerImage });
    console.log(
      `  ${runtime.padEnd(5)} batch ${String(batch).padStart(2)}  ${fmt(r.rate).padStart(6)} img/s  ${r.cpuPerImage.toFixed(3)} cpu-s/img  ${note}`,
    );
  };

  // ONNX Runtime.
  console.log('\nonnx (onnxruntime-node, cpu EP, graph optimisation "all", NHWC input):');
  const n = (b: number) => (quick ? Math.max(b, 16) : Math.max(2 * b, 32));
  for (const batch of [1, 8, 32]) {
    const e = await createEmbedder({ modelsDir, runtime: 'onnx', batchSize: batch });
    try {
      record('onnx', batch, `(${e.runtimeDetail})`, await inferenceRate(e, tensors, batch, n(batch)));
    } finally {
      await e.dispose();
    }
  }
  console.log('  knobs at batch 8:');
  for (const [threads, spinning] of [
    [1, false],
    [2, true],
  ] as const) {
    const e = await createEmbedder({ modelsDir, runtime: 'onnx', batchSize: 8, threads, spinning });
    try {
      record('onnx', 8, `threads=${threads} spinning=${spinning}`, await inferenceRate(e, tensors, 8, n(8)));
    } finally {
      await e.dispose();
    }
  }

  // tfjs.
  console.log('\ntfjs:');
  const tfjsBatches = quick ? [1, 8] : [1, 8, 32];
  for (const batch of tfjsBatches) {
    const e = await createEmbedder({ modelsDir, runtime: 'tfjs', batchSize: batch });
    try {
      record(
        'tfjs',
        batch,
        `(${e.runtimeDetail})`,
        await inferenceRate(e, tensors, batch, batch === 1 ? 8 : batch * (quick ? 1 : 2)),
      );
    } finally {
      await e.dispose();
    }
  }

  // Summary.
  const entry = (runtime: string, batch: number) =>
    results.find((r) => r.runtime === runtime && r.batch === batch && r.note.startsWith('('));
  const best = (runtime: string, batch: number) => entry(runtime, batch)?.rate ?? Number.NaN;
  console.log(
    `\nsummary (load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}):`,
  );
  console.log(`  preprocessing            ${fmt(prepRate)} img/s`);
  for (const batch of [1, 8, 32]) {
    const o = best('onnx', batch);
    const t = best('tfjs', batch);
    console.log(
      `  batch ${String(batch).padStart(2)}: onnx ${fmt(o).padStart(6)} img/s   tfjs ${Number.isNaN(t) ? '     –' : fmt(t).padStart(6)} img/s   onnx/tfjs ${Number.isNaN(t) ? '–' : `${fmt(o / t)}×`}`,
    );
  }
  const oc = entry('onnx', 8)?.cpu ?? Number.NaN;
  const tc = entry('tfjs', 8)?.cpu ?? Number.NaN;
  console.log(
    `  work per image at batch 8: onnx ${oc.toFixed(3)} cpu-s, tfjs ${tc.toFixed(3)} cpu-s (${fmt(tc / oc)}× less CPU on onnx);` +
      ` CPU-bound ceiling on ${cpus().length} idle cores ≈ ${fmt(cpus().length / oc)} img/s onnx, ${fmt(1 / tc)} img/s single-threaded wasm`,
  );
  const o8 = best('onnx', 8);
  console.log(
    `  targets: onnx ≥ 30 img/s at batch 8 → ${fmt(o8)} (${o8 >= 30 ? 'met' : 'NOT met'}); onnx ≥ 10× tfjs → ${fmt(o8 / best('tfjs', 8))}× (${o8 / best('tfjs', 8) >= 10 ? 'met' : 'NOT met'})`,
  );
}

await main();
