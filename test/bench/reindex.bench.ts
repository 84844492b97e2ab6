/**
 * `npm run bench:reindex`: a full index of ../shared/data/fashion-sample (1,731 photos) when
 * present, else of a generated demo catalog; then a no-op reindex. Untrained weights.
 *
 * Reports: end-to-end images/s, the embedder's pure inference rate in the same run
 * (embedPrepared on already-preprocessed tensors, same batch size), their ratio (target ≥ 80%),
 * and the no-op reindex time extrapolated to 44,441 files (target ≤ 10 s).
 *
 * The folder is fed in rounds of --round images (default 200; symlinks into a work folder, one
 * incremental reindex per round) with a pure-inference probe of --pure images (default 48)
 * between rounds, because the machine is shared and its load changes minute to minute.
 * Options: --batch N (default 8), --dir DIR --labels CSV (another folder).
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDemoCatalog, openCatalog, scanImages } from '@lookalike/catalog';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = join(REPO, '..', 'shared', 'data', 'fashion-sample');
const FULL_CATALOG = 44_441;

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    dir: { type: 'string' },
    labels: { type: 'string' },
    pure: { type: 'string', default: '48' },
    round: { type: 'string', default: '200' },
  },
});
const batchSize = Number(values.batch);
const pureCount = Number(values.pure);
const roundSize = Number(values.round);

async function pureInferenceRate(embedder: ImageEmbedder, tensors: Float32Array[], n: number): Promise<number> {
  // Warm-up batch, then n images in batches of batchSize, one batch at a time (like the reindex).
  await embedder.embedPrepared(tensors.slice(0, batchSize));
  const t0 = performance.now();
  let done = 0;
  while (done < n) {
    const batch: Float32Array[] = [];
    for (let i = 0; i < batchSize && done + i < n; i++) batch.push(tensors[(done + i) % tensors.length]!);
    await embedder.embedPrepared(batch);
    done += batch.length;
  }
  return n / ((performance.now() - t0) / 1000);
}

const line = (k: string, v: string) => console.log(`${k.padEnd(44)} ${v}`);

async function main(): Promise<void> {
  const work = join(TEST_TMP_DIR, 'bench-reindex');
  let imagesDir: string;
  let labelsPath: string | undefined;
  let source: string;
  if (values.dir !== undefined) {
    imagesDir = values.dir;
    labelsPath = values.labels;
    source = values.dir;
  } else if (existsSync(join(SAMPLE, 'images'))) {
    imagesDir = join(SAMPLE, 'images');
    labelsPath = join(SAMPLE, 'labels.csv');
    source = '../shared/data/fashion-sample';
  } else {
    const demo = await generateDemoCatalog(join(work, 'demo'), { count: 400, seed: 42 });
    imagesDir = demo.imagesDir;
    labelsPath = demo.labelsPath;
    source = 'generated demo catalog (fashion-sample not found)';
  }
  const modelsDir = await ensureUntrainedModels();
  const embedder = await createEmbedder({ modelsDir, batchSize });
  console.log(`bench:reindex — ${source}`);
  line('weights', embedder.weights.description);
  line('runtime', `${embedder.runtimeDetail}, batch ${batchSize}`);

  // Pure inference: preprocess a few real images once, then time embedPrepared only.
  const files = (await scanImages(imagesDir)).files;
  const sampleTensors: Float32Array[] = [];
  for (const f of files.slice(0, Math.min(files.length, 32))) {
    try {
      sampleTensors.push(await embedder.prepare(f.absPath));
    } catch {
      // a bad file: skip it
    }
  }

  // Decode-only rate (prepare), for reference: on 2 cores decoding and inference share the CPU.
  const td = performance.now();
  const decodeN = Math.min(files.length, 64);
  await Promise.all(files.slice(0, decodeN).map((f) => embedder.prepare(f.absPath).catch(() => undefined)));
  const decodeRate = decodeN / ((performance.now() - td) / 1000);

  // Full index from scratch, fed in rounds (symlinks into a work folder; each round is an
  // incremental reindex), with a pure-inference probe between rounds. The machine is shared, so
  // each round's rate is compared with the probes taken right before and after it.
  const liveDir = join(work, 'live');
  const dataDir = join(work, 'data');
  await rm(liveDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(liveDir, { recursive: true });
  const catalog = await openCatalog({ dataDir, imagesDir: liveDir, labelsPath, embedder, batchSize });
  const rounds = Math.max(1, Math.ceil(files.length / roundSize));
  const probes: number[] = [await pureInferenceRate(embedder, sampleTensors, pureCount)];
  const roundRates: number[] = [];
  const ratios: number[] = [];
  let fullS = 0;
  let embedded = 0;
  let failed = 0;
  for (let r = 0; r < rounds; r++) {
    const chunk = files.slice(r * roundSize, (r + 1) * roundSize);
    for (const f of chunk) {
      const to = join(liveDir, f.relPath);
      await mkdir(dirname(to), { recursive: true });
      await symlink(f.absPath, to);
    }
    const t = performance.now();
    const s = await catalog.reindex();
    const secs = (performance.now() - t) / 1000;
    fullS += secs;
    embedded += s.embedded;
    failed = s.failed;
    const rate = s.embedded / secs;
    probes.push(await pureInferenceRate(embedder, sampleTensors, pureCount));
    const local = (probes[r]! + probes[r + 1]!) / 2;
    roundRates.push(rate);
    ratios.push(rate / local);
    console.log(
      `  round ${String(r + 1).padStart(2)}/${rounds}: ${s.embedded} images in ${secs.toFixed(1)} s = ${rate.toFixed(2)}/s; pure around it ${local.toFixed(2)}/s; ratio ${((100 * rate) / local).toFixed(1)} %`,
    );
  }
  const pure = probes.reduce((a, b) => a + b, 0) / probes.length;
  const n = files.length;
  const e2eRate = embedded / fullS;
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;

  // No-op reindex (nothing changed), three times: the best is the least disturbed by other load.
  const noop: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const s = await catalog.reindex();
    noop.push((performance.now() - t) / 1000);
    if (s.embedded !== 0) throw new Error(`no-op reindex embedded ${s.embedded} images`);
  }
  const noopBest = Math.min(...noop);

  console.log('');
  line('images found / embedded / failed', `${n} / ${embedded} / ${failed}`);
  line('full index wall time (sum of rounds)', `${fullS.toFixed(1)} s`);
  line('end-to-end rate', `${e2eRate.toFixed(2)} images/s`);
  line(
    'pure inference rate (embedPrepared, mean)',
    `${pure.toFixed(2)} images/s (probes ${probes.map((p) => p.toFixed(1)).join(', ')})`,
  );
  line('decode-only rate (prepare, 64 images)', `${decodeRate.toFixed(2)} images/s`);
  line('ratio end-to-end / pure inference', `${((100 * e2eRate) / pure).toFixed(1)} %  (target ≥ 80 %)`);
  line('median per-round ratio (load-matched)', `${(100 * median).toFixed(1)} %`);
  line('no-op reindex', `${noop.map((x) => x.toFixed(3)).join(' s, ')} s (best ${noopBest.toFixed(3)} s)`);
  line(
    `no-op extrapolated to ${FULL_CATALOG} files`,
    `${((noopBest * FULL_CATALOG) / n).toFixed(2)} s  (target ≤ 10 s)`,
  );
  line('RSS', `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
  await catalog.close();
  await embedder.dispose();
}

await main();
