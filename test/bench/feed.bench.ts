/**
 * `npm run bench:feed`: a feed catalog indexed end to end from the loopback feed server (Merchant
 * TSV over HTTP, every image working, --size px JPEGs), against pure inference in the same run.
 * Untrained weights.
 *
 * Reports: the end-to-end rate (feed read and staged, images downloaded through the real fetcher
 * and host queue, hashed, cached, embedded, committed), the embedder-only rate (the same calls the
 * catalog makes, `embed([bytes], { priority: 'batch' })` with the same window in flight, on bytes
 * already in memory: decode + preprocess + inference, no feed, no download), their ratio (target
 * ≥ 85 %), and for reference the raw ONNX Runtime rate on preprocessed tensors. Then a no-op
 * re-run (every image 304) and its time.
 *
 * The products are fed in rounds of --round (default 100; the feed grows each round, one
 * incremental reindex per round) with an embedder-only probe of --pure images (default 32) between
 * rounds: the machine is shared, and each round is compared with the probes right around it.
 * Options: --count N (default 400), --batch N (default 8), --size PX (default 256).
 */
import { readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openCatalog } from '@lookalike/catalog';
import { createEmbedder, type ImageEmbedder, INPUT_SIZE, preprocessImage, readManifest } from '@lookalike/embedder';
import { createFetcher, createHostQueue } from '@lookalike/fetch';
import * as ort from 'onnxruntime-node';
import { startFeedServer } from '../feeds/fixtures/feed-server.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '400' },
    batch: { type: 'string', default: '8' },
    size: { type: 'string', default: '256' },
    pure: { type: 'string', default: '32' },
    round: { type: 'string', default: '100' },
  },
});
const count = Number(values.count);
const batchSize = Number(values.batch);
const size = Number(values.size);
const pureCount = Number(values.pure);
const roundSize = Number(values.round);
/** The catalog's window: embed calls in flight. */
const window = 2 * batchSize;

const line = (k: string, v: string) => console.log(`${k.padEnd(46)} ${v}`);

/** The embedder alone, as the catalog calls it: one image per call, `window` calls in flight. */
async function embedderOnly(embedder: ImageEmbedder, images: readonly Buffer[], n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(window, n) }, async () => {
      while (next < n) {
        const bytes = Buffer.from(images[next++ % images.length]!);
        await embedder.embed([bytes], { priority: 'batch' });
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** One ORT session on this thread, on preprocessed tensors (reference only). */
async function rawOrt(modelsDir: string, tensors: Float32Array[], n: number): Promise<number> {
  const manifest = await readManifest(modelsDir);
  const session = await ort.InferenceSession.create(await readFile(join(modelsDir, manifest.files.onnx.path)), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const per = INPUT_SIZE * INPUT_SIZE * 3;
  const run = async (k: number, offset: number) => {
    const data = new Float32Array(k * per);
    for (let i = 0; i < k; i++) data.set(tensors[(offset + i) % tensors.length]!, i * per);
    await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [k, INPUT_SIZE, INPUT_SIZE, 3]) });
  };
  await run(batchSize, 0);
  const t0 = performance.now();
  for (let done = 0; done < n; done += batchSize) await run(Math.min(batchSize, n - done), done);
  const rate = n / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}

async function main(): Promise<void> {
  const work = join(TEST_TMP_DIR, 'bench-feed');
  await rm(work, { recursive: true, force: true });
  const modelsDir = await ensureUntrainedModels();
  const server = await startFeedServer({ count, imageSize: size, broken: false });
  const embedder = await createEmbedder({ modelsDir, batchSize });
  const fetcher = createFetcher({
    allowedHosts: ['127.0.0.1'],
    allowPrivate: true,
    limits: { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 },
  });
  const hostQueue = createHostQueue({ perHost: 4 });
  console.log(`bench:feed — ${count} products, ${size}×${size} JPEGs from a loopback server (Merchant TSV)`);
  line('weights', embedder.weights.description);
  line('runtime', `${embedder.runtimeDetail}, batch ${batchSize}, window ${window}`);

  const probeImages = server.products.slice(0, pureCount).map((p) => server.imageBytes(p));
  const meanBytes = server.products.reduce((a, p) => a + server.imageBytes(p).length, 0) / count;
  await embedderOnly(embedder, probeImages, window); // warm-up

  const catalog = await openCatalog({
    dataDir: join(work, 'data'),
    feed: { source: server.feedUrl('merchant-tsv') },
    fetcher,
    hostQueue,
    embedder,
    batchSize,
  });
  for (const p of server.products) server.drop(p.id);
  const rounds = Math.max(1, Math.ceil(count / roundSize));
  const probes: number[] = [await embedderOnly(embedder, probeImages, pureCount)];
  const ratios: number[] = [];
  let seconds = 0;
  let embedded = 0;
  let downloads = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of server.products.slice(r * roundSize, (r + 1) * roundSize)) server.restore(p.id);
    const t = performance.now();
    const s = await catalog.reindex();
    const secs = (performance.now() - t) / 1000;
    seconds += secs;
    embedded += s.embedded;
    downloads += s.downloads;
    if (s.failed > 0) throw new Error(`round ${r + 1}: ${s.failed} failures ${JSON.stringify(s.failuresByCode)}`);
    await catalog.whenIdle();
    probes.push(await embedderOnly(embedder, probeImages, pureCount));
    const rate = s.embedded / secs;
    const local = (probes[r]! + probes[r + 1]!) / 2;
    ratios.push(rate / local);
    console.log(
      `  round ${String(r + 1).padStart(2)}/${rounds}: ${s.embedded} products in ${secs.toFixed(1)} s = ${rate.toFixed(2)}/s (${s.downloads} downloads); embedder-only around it ${local.toFixed(2)}/s; ratio ${((100 * rate) / local).toFixed(1)} %`,
    );
  }
  const e2e = embedded / seconds;
  const pure = probes.reduce((a, b) => a + b, 0) / probes.length;
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;

  const t = performance.now();
  const again = await catalog.reindex();
  const noop = (performance.now() - t) / 1000;
  if (again.embedded !== 0 || again.downloads !== 0) throw new Error('the no-op run downloaded or embedded');

  const tensors: Float32Array[] = [];
  for (const bytes of probeImages.slice(0, 16)) tensors.push(await preprocessImage(Buffer.from(bytes)));
  const ort = await rawOrt(modelsDir, tensors, pureCount);

  console.log('');
  line(
    'products / embedded / downloads',
    `${count} / ${embedded} / ${downloads} (mean image ${(meanBytes / 1024).toFixed(1)} kB)`,
  );
  line('feed index wall time (sum of rounds)', `${seconds.toFixed(1)} s`);
  line('end-to-end feed rate', `${e2e.toFixed(2)} products/s`);
  line(
    'embedder-only rate (same calls, bytes in memory)',
    `${pure.toFixed(2)} images/s (probes ${probes.map((p) => p.toFixed(1)).join(', ')})`,
  );
  line('ratio feed / embedder-only', `${((100 * e2e) / pure).toFixed(1)} %  (target ≥ 85 %)`);
  line('median per-round ratio (load-matched)', `${(100 * median).toFixed(1)} %`);
  line('raw ORT on tensors (reference)', `${ort.toFixed(2)} images/s; feed / raw ${((100 * e2e) / ort).toFixed(1)} %`);
  line('no-op re-run (every image 304)', `${noop.toFixed(2)} s, ${again.notModified} not modified`);
  line('RSS', `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);

  await catalog.close();
  await fetcher.close();
  await embedder.dispose();
  await server.close();
  await rm(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
