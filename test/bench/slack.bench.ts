/**
 * `npm run bench:slack`: time from a signed file_share event (POST /slack/events) to the
 * fake Slack receiving files.completeUploadExternal for that thread, with the real Bolt App,
 * the real core service (untrained weights, generated catalog) and the loopback fake.
 * p50/p99 at 1 and at 4 concurrent requests. Targets: p50 ≤ 200 ms, p99 ≤ 500 ms.
 *
 * Options: `npm run bench:slack -- --n 60 --warmup 5` (requests per level, warm-up requests).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createTestStack } from '../helpers/stack.js';
import { fileShareEvent, startSlackHarness } from '../slack/harness.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, warmup: { type: 'string' } } });
const N = Number(values.n ?? 60);
const WARMUP = Number(values.warmup ?? 5);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const stack = await createTestStack({ catalogSize: 48, limits: { ratePerMinute: 1_000_000, queueMax: 1000 } });
const h = await startSlackHarness({ stack });

interface Sample {
  total: number;
  /** Event posted → download request at the fake (receiver + Bolt + listener). */
  toDownload: number;
  /** Download → completeUploadExternal (fetch, embed, search, collage, 3-step upload). */
  rest: number;
}

let seq = 0;
async function one(): Promise<Sample> {
  seq += 1;
  const channel = `CBENCH${seq}`;
  const file = h.fake.addFile({ name: `bench-${seq}.jpg`, mimetype: 'image/jpeg', bytes: h.photo, user: `UB${seq}` });
  const ev = fileShareEvent(h.fake, { channel, user: `UB${seq}`, files: [file] });
  const t0 = Date.now();
  const res = await h.signer.postEvent(ev);
  if (res.status !== 200) throw new Error(`event status ${res.status}`);
  await res.arrayBuffer();
  const done = await h.fake.waitFor(
    (calls) => calls.find((c) => c.method === 'files.completeUploadExternal' && c.args.channel_id === channel),
    60_000,
  );
  const download = h.fake.calls.find((c) => c.method === 'download' && c.path.includes(file.id))?.at ?? Number.NaN;
  return { total: done.at - t0, toDownload: download - t0, rest: done.at - download };
}

async function pool<T>(concurrency: number, n: number, task: () => Promise<T>): Promise<T[]> {
  const samples: T[] = [];
  let left = n;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      samples.push(await task());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return samples;
}

const level = (concurrency: number, n: number) => pool(concurrency, n, one);

/** Baseline: the core service alone (download not included), same photo, same concurrency. */
let directSeq = 0;
async function direct(): Promise<number> {
  const t0 = Date.now();
  await stack.service.findSimilar(h.photo, { userId: `bench:${++directSeq}`, k: 6 });
  return Date.now() - t0;
}

function report(concurrency: number, samples: Sample[], wallMs: number, core: number[]): void {
  const total = samples.map((s) => s.total).sort((a, b) => a - b);
  const p50 = percentile(total, 50);
  const p99 = percentile(total, 99);
  const med = (k: keyof Sample) =>
    percentile(
      samples.map((s) => s[k]).sort((a, b) => a - b),
      50,
    );
  const ok = (v: number, target: number) => (v <= target ? 'ok' : 'MISSED');
  console.log(
    `concurrency ${concurrency}: n=${samples.length} p50=${p50} ms (${ok(p50, 200)} ≤200) p99=${p99} ms (${ok(p99, 500)} ≤500) ` +
      `min=${total[0]} max=${total.at(-1)} throughput=${((samples.length / wallMs) * 1000).toFixed(1)} req/s`,
  );
  console.log(
    `  median split: event→download request ${med('toDownload')} ms · download→completeUploadExternal (fetch, embed, search, collage, upload) ${med('rest')} ms`,
  );
  const coreSorted = [...core].sort((a, b) => a - b);
  const coreP50 = percentile(coreSorted, 50);
  console.log(
    `  baseline service.findSimilar alone at concurrency ${concurrency}: p50=${coreP50} ms p99=${percentile(coreSorted, 99)} ms → Slack path adds ${p50 - coreP50} ms at p50 (×${(p50 / coreP50).toFixed(2)})`,
  );
}

try {
  console.log(
    `bench:slack — ${N} requests per level after ${WARMUP} warm-up; catalog ${stack.items.length} items, untrained weights, ${stack.embedder.runtime}`,
  );
  await level(1, WARMUP);
  for (const c of [1, 4]) {
    const core = await pool(c, Math.max(8, Math.round(N / 3)), direct);
    const t = Date.now();
    const samples = await level(c, N);
    report(c, samples, Date.now() - t, core);
  }
  console.log(
    `load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (${cpus().length} cores)`,
  );
} finally {
  await h.close();
  await stack.close();
}
