/**
 * `npm run bench:discord`: time from a MESSAGE_CREATE (attachment served from loopback) to the
 * reply POST reaching the fake, with the real discord.js client and the real core service
 * (untrained ResNet50 on ONNX Runtime, generated catalog). p50/p99 at 1 and 4 concurrent posts.
 * Targets (2-core machine): p50 ≤ 150 ms, p99 ≤ 400 ms at 4 concurrent.
 *
 * `--int8` then quantizes the test weights (calibrated on the generated catalog) and measures the
 * same at 4 concurrent with LOOKALIKE_PRECISION=int8, in the same run: target p50 ≤ 0.65× fp32's.
 */
import { link, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createDiscordBot } from '@lookalike/discord';
import { quantizeModels } from '@lookalike/embedder';
import { recordingLogger } from '../discord/harness.js';
import { FakeDiscord, snowflake } from '../fakes/discord.js';
import { makeTestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

const args = process.argv.slice(2);
const INT8 = args.includes('--int8');
const SAMPLES = Number(args.find((a) => /^\d+$/.test(a)) ?? 40);
const WARMUP = 6;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

type Row = { concurrency: number; p50: number; p99: number; max: number; embedMs: number; collageMs: number };

/** The bench on one stack: a fake Discord and the real bot in front of its service. */
async function bench(
  stack: TestStack,
  serviceLog: ReturnType<typeof recordingLogger>,
  levels: number[],
): Promise<Row[]> {
  const fake = await FakeDiscord.start();
  const bot = createDiscordBot({
    service: stack.service,
    token: fake.token,
    watchChannels: [fake.watchedChannelId],
    adminRoleIds: [],
    apiBase: fake.apiBase,
    clientOptions: { waitGuildTimeout: 2000 },
  });
  await bot.start();

  const images = await Promise.all(
    stack.items.slice(0, 8).map(async (it, i) => {
      const png = it.path.endsWith('.png');
      const bytes = await readFile(it.path);
      return {
        filename: `photo-${i}.${png ? 'png' : 'jpg'}`,
        contentType: png ? 'image/png' : 'image/jpeg',
        url: fake.hostFile(`photo-${i}.${png ? 'png' : 'jpg'}`, bytes, png ? 'image/png' : 'image/jpeg'),
        size: bytes.length,
      };
    }),
  );

  /** Per request: latency minus the service's own work (embed + search + collage). */
  const overheads: number[] = [];

  function serviceMsOf(requestId: string | undefined): number | undefined {
    const e = serviceLog.entries.find((x) => x.msg === 'answered' && x.bindings.requestId === requestId);
    if (e === undefined) return undefined;
    const o = (e.obj as { ms?: Record<string, number> }).ms ?? {};
    return (o.embed ?? 0) + (o.search ?? 0) + (o.collage ?? 0);
  }

  let n = 0;
  /** Posts one image and resolves with ms from MESSAGE_CREATE to the reply POST's arrival. */
  async function one(): Promise<number> {
    const img = images[n++ % images.length]!;
    const msg = fake.sendMessage({
      channelId: fake.watchedChannelId,
      author: { id: snowflake(), username: 'bench' },
      attachments: [{ filename: img.filename, contentType: img.contentType, url: img.url }],
    });
    const reply = await fake.waitFor(
      (r) =>
        r.method === 'POST' &&
        r.path === `/channels/${fake.watchedChannelId}/messages` &&
        (r.json as { message_reference?: { message_id?: string } } | undefined)?.message_reference?.message_id ===
          msg.id,
      60_000,
    );
    if (reply.files.length !== 1) throw new Error(`reply without collage: ${JSON.stringify(reply.json)}`);
    const latency = reply.startedAt - msg.sentAt;
    const footer = (reply.json as { embeds?: { footer?: { text?: string } }[] }).embeds?.[0]?.footer?.text ?? '';
    const serviceMs = serviceMsOf(/request (\S+)$/.exec(footer)?.[1]);
    if (serviceMs !== undefined) overheads.push(latency - serviceMs);
    return latency;
  }

  /** Keeps `concurrency` posts in flight until `samples` replies have arrived. */
  async function run(concurrency: number, samples: number): Promise<number[]> {
    const out: number[] = [];
    let started = 0;
    async function worker() {
      while (started < samples) {
        started++;
        out.push(await one());
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    return out.sort((a, b) => a - b);
  }

  function serviceBreakdown(from: number) {
    const answered = serviceLog.entries
      .slice(from)
      .filter((e) => e.msg === 'answered')
      .map((e) => (e.obj as { ms?: Record<string, number> }).ms ?? {});
    const med = (xs: number[]) =>
      quantile(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    return {
      embedMs: med(answered.map((a) => a.embed ?? 0)),
      collageMs: med(answered.map((a) => a.collage ?? 0)),
    };
  }

  console.log(
    `discord bench: ${cpus().length} cores, ${stack.embedder.runtime}, weights ${stack.embedder.weights.source}, ` +
      `catalog ${stack.catalog.size()} items, ${SAMPLES} samples per level`,
  );
  await run(2, WARMUP);
  const rows: Row[] = [];
  for (const concurrency of levels) {
    const mark = serviceLog.entries.length;
    overheads.length = 0;
    const t0 = performance.now();
    const lat = await run(concurrency, SAMPLES);
    const wall = performance.now() - t0;
    const b = serviceBreakdown(mark);
    rows.push({
      concurrency,
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      max: lat.at(-1)!,
      ...b,
    });
    console.log(
      `  concurrency ${concurrency}: p50 ${quantile(lat, 0.5).toFixed(1)} ms · p99 ${quantile(lat, 0.99).toFixed(1)} ms · ` +
        `min ${lat[0]!.toFixed(1)} ms · throughput ${((SAMPLES / wall) * 1000).toFixed(1)} answers/s · ` +
        `service median embed ${b.embedMs} ms, collage ${b.collageMs} ms · ` +
        `outside the service (Discord adapter, download, REST${concurrency > 1 ? ', queueing' : ''}) p50 ${quantile(
          [...overheads].sort((a, b) => a - b),
          0.5,
        ).toFixed(1)} ms`,
    );
  }
  const at4 = rows.find((r) => r.concurrency === 4)!;
  if (levels.length > 1) {
    console.log(
      `targets at 4 concurrent: p50 ${at4.p50.toFixed(0)} / 150 ms (${(at4.p50 / 150).toFixed(2)}×) · ` +
        `p99 ${at4.p99.toFixed(0)} / 400 ms (${(at4.p99 / 400).toFixed(2)}×) → ${at4.p50 <= 150 && at4.p99 <= 400 ? 'MET' : 'NOT MET'}`,
    );
  }

  await bot.stop();
  await fake.close();
  return rows;
}

/** A models folder with the untrained weights (hard links) and their int8 model, calibrated on `images`. */
async function int8Models(images: string): Promise<string> {
  const from = await ensureUntrainedModels();
  const to = join(TEST_TMP_DIR, `bench-int8-models-${process.pid}`);
  await rm(to, { recursive: true, force: true });
  for (const e of await readdir(from, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const src = join(e.parentPath, e.name);
    const dst = join(to, src.slice(from.length));
    await mkdir(join(dst, '..'), { recursive: true });
    await link(src, dst);
  }
  await quantizeModels({ modelsDir: to, calibrationDir: images, images: 32 });
  return to;
}

const stackOptions = { catalogSize: 40, limits: { ratePerMinute: 100_000, queueMax: 1000 } };
const fp32Log = recordingLogger();
const fp32 = await createTestStack({ ...stackOptions, logger: fp32Log });
let fp32Rows: Row[];
try {
  fp32Rows = await bench(fp32, fp32Log, [1, 4]);
} finally {
  await fp32.close();
}
if (INT8) {
  const calibrationDir = join(TEST_TMP_DIR, `bench-int8-calibration-${process.pid}`);
  const calibration = await makeTestCatalog(calibrationDir, { count: 32, seed: 3 });
  const modelsDir = await int8Models(calibration.imagesDir);
  await rm(calibrationDir, { recursive: true, force: true });
  const int8Log = recordingLogger();
  const int8 = await createTestStack({ ...stackOptions, logger: int8Log, modelsDir, precision: 'int8' });
  try {
    console.log('int8 (same catalog, calibrated on 32 other generated images):');
    const [row] = await bench(int8, int8Log, [4]);
    const base = fp32Rows.find((r) => r.concurrency === 4)!;
    const ratio = row!.p50 / base.p50;
    console.log(
      `int8 / fp32 at 4 concurrent: p50 ${row!.p50.toFixed(0)} / ${base.p50.toFixed(0)} ms = ${ratio.toFixed(2)}× ` +
        `(target ≤ 0.65×) → ${ratio <= 0.65 ? 'MET' : 'NOT MET'}; service median embed ${row!.embedMs} vs ${base.embedMs} ms`,
    );
  } finally {
    await int8.close();
    await rm(modelsDir, { recursive: true, force: true });
  }
}
