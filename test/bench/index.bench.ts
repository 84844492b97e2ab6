/**
 * `npm run bench:index` — FAISS flat vs HNSW at catalog scale (44,441 x 2048 by default).
 *
 *   npm run bench:index -- [--n 44441] [--queries 500] [--ef 32,64,96,128,192] [--M 32] [--seed 1]
 *
 * Prints build, save and load times, single-query latency (p50/p99, k=6), batched throughput,
 * recall@6 of HNSW against the exact flat index, and RSS; then the incremental and background
 * work: the cost of adding/removing one batch, how long save, load and a worker build block the
 * main thread (event-loop delay, max), and an HNSW compaction (time, swap, queries meanwhile).
 * No assertions: figures only.
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Logger } from '@lookalike/core';
import { buildIndexInWorker, createIndex, loadIndex, type SearchHit, type VectorIndex } from '@lookalike/index';
import { DEFAULT_MIXTURE, mixture, recallAt } from '../index/synthetic.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '44441' },
    queries: { type: 'string', default: '500' },
    ef: { type: 'string', default: '32,64,96,128,192' },
    M: { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '32' },
  },
});
const BATCH = Number(values.batch);
const N = Number(values.n);
const Q = Number(values.queries);
const EFS = values.ef.split(',').map(Number);
const M = Number(values.M);
const D = 2048;
const K = 6;
const dir = join(import.meta.dirname, '..', '.tmp', `bench-index-${process.pid}`);
mkdirSync(dir, { recursive: true });

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
const rss = () => mb(process.memoryUsage().rss);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}
/** Runs `fn` and reports the event loop's worst delay meanwhile (what a chat event would wait). */
async function loopMax<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  await new Promise((r) => setTimeout(r, 20)); // the histogram counts from its second tick on
  const t = performance.now();
  const r = await fn();
  const ms = performance.now() - t;
  h.disable();
  return [r, ms, h.max / 1e6];
}
const ms1 = (ms: number) => `${ms.toFixed(1)} ms`;
/** A logger that keeps the fields of the lines it is told to keep. */
function capture(keep: string): { logger: Logger; seen: Record<string, unknown>[] } {
  const seen: Record<string, unknown>[] = [];
  const logger: Logger = {
    child: () => logger,
    trace() {},
    debug(o, m) {
      if (m === keep) seen.push(o as Record<string, unknown>);
    },
    info(o, m) {
      if (m === keep) seen.push(o as Record<string, unknown>);
    },
    warn(o, m) {
      console.warn('warn:', m, o);
    },
    error() {},
    fatal() {},
  };
  return { logger, seen };
}
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
/**
 * Single-query latency, wall clock and CPU time. Single queries run on one thread, so the CPU
 * time is what the query costs on an idle core; the wall clock includes waiting for a core on a
 * busy machine.
 */
function latency(
  index: VectorIndex,
  queries: Float32Array[],
): { p50: number; p99: number; cpu50: number; hits: SearchHit[][] } {
  for (let i = 0; i < Math.min(20, queries.length); i++) index.search(queries[i] as Float32Array, K); // warm-up
  const ms: number[] = [];
  const cpu: number[] = [];
  const hits: SearchHit[][] = [];
  for (const q of queries) {
    const c = process.cpuUsage();
    const t = performance.now();
    hits.push(index.search(q, K));
    ms.push(performance.now() - t);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99), cpu50: pct(cpu, 50), hits };
}
function throughput(index: VectorIndex, queries: Float32Array[], batch = 100): number {
  const t = performance.now();
  for (let i = 0; i < queries.length; i += batch) index.searchBatch(queries.slice(i, i + batch), K);
  return queries.length / ((performance.now() - t) / 1000);
}

const rows: string[][] = [];
function row(...cells: (string | number)[]) {
  rows.push(cells.map(String));
}

console.log(
  `bench:index — ${N.toLocaleString('en')} x ${D} float32 vectors, ${Q} queries, k=${K}, HNSW M=${M}, efSearch ${EFS.join('/')}`,
);
console.log(
  `data: two-level Gaussian mixture (${DEFAULT_MIXTURE.centres} centres x ${DEFAULT_MIXTURE.subPerCentre} sub-centres, ` +
    `sub-centre spread ${DEFAULT_MIXTURE.subSpread}, point noise ${DEFAULT_MIXTURE.noise}), L2-normalised like ResNet50 embeddings;\n` +
    '      queries are held-out draws from the same mixture (not members). Uniform random 2048-d vectors would be\n' +
    '      near-equidistant and make any ANN comparison meaningless.',
);
const [gen, genMs] = time(() => {
  const m = mixture({ ...DEFAULT_MIXTURE, dimension: D, seed: Number(values.seed) });
  const data = Array.from({ length: N }, () => m.draw());
  const queries = Array.from({ length: Q }, () => m.draw());
  return { data, queries };
});
const ids = gen.data.map((_, i) => i);
console.log(`generated in ${secs(genMs)}; RSS ${rss()}`);

// ---- background-work figures (second table)
const bg: string[][] = [];
function bgRow(...cells: (string | number)[]) {
  bg.push(cells.map(String));
}
/** The synchronous part of save() (the FAISS snapshot), the whole save, and the loop's worst delay. */
async function measureSave(index: VectorIndex, file: string): Promise<{ sync: number; total: number; loop: number }> {
  let sync = 0;
  const [, total, loop] = await loopMax(() => {
    const t = performance.now();
    const p = index.save(file);
    sync = performance.now() - t;
    return p;
  });
  return { sync, total, loop };
}
/** Adds then removes one batch of fresh vectors (held-out queries) on a loaded index. */
function batchCost(index: VectorIndex): { add: number; remove: number } {
  const batchIds = Array.from({ length: BATCH }, (_, i) => N + 1_000_000 + i);
  const vecs = Array.from({ length: BATCH }, (_, i) => gen.queries[i % gen.queries.length] as Float32Array);
  const [, add] = time(() => index.add(batchIds, vecs));
  const [, remove] = time(() => index.remove(batchIds));
  return { add, remove };
}
const faissNode = createRequire(join(import.meta.dirname, '..', '..', 'packages', 'index', 'package.json'))(
  'faiss-node',
) as { Index: { fromBuffer(b: Buffer): unknown } };
/** What a main-thread fromBuffer of this file's FAISS section would block (loadIndex does it in the worker). */
function fromBufferMs(file: string): number {
  const bytes = readFileSync(file);
  const len = bytes.readUInt32LE(8);
  const h = JSON.parse(bytes.toString('utf8', 12, 12 + len)) as { idsBytes: number };
  const faiss = bytes.subarray(12 + len + h.idsBytes);
  const [, ms] = time(() => faissNode.Index.fromBuffer(faiss));
  return ms;
}

// The machine's own noise: the worst event-loop delay of this process doing nothing for 5 s.
const [, , idleLoop] = await loopMax(() => new Promise((r) => setTimeout(r, 5000)));
bgRow('-', 'idle baseline', '5.0 s', `doing nothing; loop max ${ms1(idleLoop)} (CPU contention from other processes)`);

// ---- flat
const flat = createIndex({ kind: 'flat', dimension: D });
const [, flatBuild] = time(() => flat.add(ids, gen.data));
console.log(`flat built in ${secs(flatBuild)}; RSS ${rss()}`);
const flatFile = join(dir, 'flat.lkidx');
const flatSave = await measureSave(flat, flatFile);
const [flatLoaded, flatLoad, flatLoadLoop] = await loopMax(() => loadIndex(flatFile));
const flatSize = statSync(flatFile).size;
const [truth] = time(() => flat.searchBatch(gen.queries, K));
const fl = latency(flatLoaded, gen.queries);
const flatQps = throughput(flatLoaded, gen.queries);
const rssFlat = rss();
row(
  'flat',
  '-',
  secs(flatBuild),
  secs(flatSave.total),
  secs(flatLoad),
  mb(flatSize),
  fl.p50.toFixed(2),
  fl.p99.toFixed(2),
  fl.cpu50.toFixed(2),
  flatQps.toFixed(0),
  recallAt(fl.hits, truth).toFixed(4),
  rssFlat,
);
const flatBatch = batchCost(flatLoaded);
const flatFromBuffer = fromBufferMs(flatFile);
const [flatBuilt, flatWorkerBuild, flatWorkerLoop] = await loopMax(async () => {
  const b = buildIndexInWorker({ kind: 'flat', dimension: D });
  for (let from = 0; from < N; from += 1024)
    await b.add(ids.slice(from, from + 1024), gen.data.slice(from, from + 1024));
  return b.finish();
});
console.log(`flat built in a worker in ${secs(flatWorkerBuild)}; RSS ${rss()}`);
void flatBuilt;
bgRow('flat', 'add batch', ms1(flatBatch.add), `${BATCH} vectors, on the main thread, first add after load`);
bgRow('flat', 'remove batch', ms1(flatBatch.remove), `${BATCH} ids, swap-last (no shift)`);
bgRow('flat', 'save: sync part', ms1(flatSave.sync), 'live ids now; vectors streamed to the worker in 8 MB chunks');
bgRow(
  'flat',
  'save: total',
  secs(flatSave.total),
  `stream + toBuffer + hash + write + fsync in the worker; loop max ${ms1(flatSave.loop)}`,
);
bgRow('flat', 'load', secs(flatLoad), `read + hash + fromBuffer in the worker; loop max ${ms1(flatLoadLoop)}`);
bgRow('flat', 'fromBuffer', ms1(flatFromBuffer), 'if done on the main thread (reference; not on any path)');
bgRow('flat', 'worker build', secs(flatWorkerBuild), `chunks of 1024; loop max ${ms1(flatWorkerLoop)}`);

// ---- hnsw
const hnsw = createIndex({ kind: 'hnsw', dimension: D, M, efSearch: EFS[0] ?? 128 });
console.log(`building HNSW${M},Flat ...`);
const [, hnswBuild] = time(() => hnsw.add(ids, gen.data));
console.log(`hnsw built in ${secs(hnswBuild)}; RSS ${rss()}`);
const hnswFile = join(dir, 'hnsw.lkidx');
const hnswSave = await measureSave(hnsw, hnswFile);
const cap = capture('hnsw compaction swapped in');
const [hnswLoaded, hnswLoad, hnswLoadLoop] = await loopMax(() => loadIndex(hnswFile, { logger: cap.logger }));
const hnswSize = statSync(hnswFile).size;
let first = true;
for (const ef of EFS) {
  hnswLoaded.setEfSearch(ef);
  const hl = latency(hnswLoaded, gen.queries);
  const qps = throughput(hnswLoaded, gen.queries);
  const recall = recallAt(hl.hits, truth);
  row(
    'hnsw',
    ef,
    first ? secs(hnswBuild) : '',
    first ? secs(hnswSave.total) : '',
    first ? secs(hnswLoad) : '',
    first ? mb(hnswSize) : '',
    hl.p50.toFixed(2),
    hl.p99.toFixed(2),
    hl.cpu50.toFixed(2),
    qps.toFixed(0),
    recall.toFixed(4),
    rss(),
  );
  first = false;
}
hnswLoaded.setEfSearch(96);
const hnswBatch = batchCost(hnswLoaded);
const hnswFromBuffer = fromBufferMs(hnswFile);
bgRow(
  'hnsw',
  'add batch',
  ms1(hnswBatch.add),
  `${BATCH} vectors, on the main thread (graph inserts), first add after load`,
);
bgRow('hnsw', 'remove batch', ms1(hnswBatch.remove), `${BATCH} ids, tombstones`);
bgRow('hnsw', 'save: sync part', ms1(hnswSave.sync), 'FAISS toBuffer of the graph on the main thread (blocks)');
bgRow(
  'hnsw',
  'save: total',
  secs(hnswSave.total),
  `hash + write + fsync in the worker; loop max ${ms1(hnswSave.loop)}`,
);
bgRow('hnsw', 'load', secs(hnswLoad), `read + hash + fromBuffer in the worker; loop max ${ms1(hnswLoadLoop)}`);
bgRow('hnsw', 'fromBuffer', ms1(hnswFromBuffer), 'if done on the main thread (reference; not on any path)');

// ---- hnsw compaction: remove 11% (past the 10% threshold), keep querying every 20 ms meanwhile
const gone = ids.filter((id) => id % 9 === 0);
const live = new Set(ids.filter((id) => id % 9 !== 0));
const [, removeMs] = time(() => hnswLoaded.remove(gone));
const during: number[] = [];
let wrong = 0;
const [, compactMs, compactLoop] = await loopMax(async () => {
  let qi = 0;
  while (hnswLoaded.stats().compacting) {
    const t = performance.now();
    const hits = hnswLoaded.search(gen.queries[qi++ % Q] as Float32Array, K);
    during.push(performance.now() - t);
    if (hits.length !== K || hits.some((h) => !live.has(h.id))) wrong++;
    await new Promise((r) => setTimeout(r, 20));
  }
  await hnswLoaded.whenIdle();
});
during.sort((a, b) => a - b);
const after = latency(hnswLoaded, gen.queries);
const liveTruth = flatLoaded;
flatLoaded.remove(gone);
const truthAfter = liveTruth.searchBatch(gen.queries, K);
const swap = cap.seen.at(-1) as { swapMs?: number } | undefined;
bgRow('hnsw', 'remove 11%', ms1(removeMs), `${gone.length} ids tombstoned; compaction starts`);
bgRow(
  'hnsw',
  'compaction',
  secs(compactMs),
  `worker rebuild of ${live.size} vectors; loop max ${ms1(compactLoop)}; swap ${ms1(swap?.swapMs ?? Number.NaN)} on the main thread`,
);
bgRow(
  'hnsw',
  'queries meanwhile',
  `p50 ${ms1(pct(during, 50))}`,
  `p99 ${ms1(pct(during, 99))}, ${during.length} queries, ${wrong} with a removed id or < k results`,
);
bgRow(
  'hnsw',
  'after compaction',
  `p50 ${ms1(after.p50)}`,
  `recall@6 ${recallAt(after.hits, truthAfter).toFixed(4)} vs flat on the live items; stats ${JSON.stringify(hnswLoaded.stats())}`,
);

// ---- the cost of the Float32Array boundary alone: a 1-item index
const tiny = createIndex({ kind: 'flat', dimension: D });
tiny.add([0], [gen.data[0] as Float32Array]);
const tl = latency(tiny, gen.queries);
row(
  'boundary*',
  '-',
  '',
  '',
  '',
  '',
  tl.p50.toFixed(2),
  tl.p99.toFixed(2),
  tl.cpu50.toFixed(2),
  throughput(tiny, gen.queries).toFixed(0),
  '',
  '',
);

const head = [
  'index',
  'efSearch',
  'build',
  'save',
  'load',
  'file',
  'p50 ms',
  'p99 ms',
  'p50 cpu ms',
  'batch q/s',
  'recall@6',
  'RSS',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const fmt = (r: string[]) => r.map((c, i) => c.padStart(widths[i] as number)).join('  ');
console.log(`\n${fmt(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const r of rows) console.log(fmt(r));
console.log('* a 1-vector index: the fixed per-query cost of a call into faiss-node (Float32Array in and out).');

const bgHead = ['index', 'operation', 'time', 'notes'];
const bgW = bgHead.map((h, i) => Math.max(h.length, ...bg.map((r) => (r[i] ?? '').length)));
const bgFmt = (r: string[]) => r.map((c, i) => (i === 3 ? c : c.padEnd(bgW[i] as number))).join('  ');
console.log(`\nincremental and background work (loop max = worst event-loop delay while it ran)\n${bgFmt(bgHead)}`);
for (const r of bg) console.log(bgFmt(r));

const best = rows
  .filter((r) => r[0] === 'hnsw' && Number(r[10]) >= 0.99)
  .sort((a, b) => Number(a[6]) - Number(b[6]))[0];
if (best) {
  const [wall, cpu] = [Number(best[6]), Number(best[8])];
  const verdict = wall <= 2 ? 'MET' : cpu <= 2 ? 'MET on CPU time (wall clock inflated by machine load)' : 'NOT MET';
  console.log(
    `target (HNSW p50 <= 2 ms with recall@6 >= 0.99): efSearch ${best[1]} gives p50 ${best[6]} ms wall / ${best[8]} ms CPU, ` +
      `recall ${best[10]} -> ${verdict}; flat/HNSW p50 ratio ${(fl.p50 / wall).toFixed(1)}x`,
  );
} else {
  console.log('target: no efSearch reached recall@6 >= 0.99');
}
console.log(
  `load average during the run: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (2 cores; other work inflates figures)`,
);
rmSync(dir, { recursive: true, force: true });
