/**
 * `lookalike bench search`: every exact and approximate search path over the same clustered unit
 * vectors, one query at a time, in one run: the raw OpenBLAS sgemv over the matrix (the memory
 * bandwidth limit, no top-k), FAISS's IndexFlatL2.search, the exact path (searchScan), flat-sq8
 * with its re-rank, HNSW and, when python3 has scikit-learn, the seed's brute-force search.
 */
import { availableParallelism } from 'node:os';
import { clusteredData } from './bench-data.js';
import { runSklearn } from './bench-sklearn.js';
import { createIndex } from './create.js';
import { loadFaiss, useThreads } from './faiss.js';
import type { SearchHit } from './types.js';

export interface SearchBenchOptions {
  vectors?: number;
  queries?: number;
  dimension?: number;
  /** HNSW efSearch. Default 96. */
  efSearch?: number;
  /** Progress lines (stderr in the CLI). */
  progress?: (message: string) => void;
  /** Default 'python3'. */
  python?: string;
}

export interface SearchBenchPath {
  name: string;
  p50Ms: number | null;
  p99Ms: number | null;
  /** p50 over raw-sgemv's p50. */
  ratioToRaw: number | null;
  /** Against the exact path's top 6 (null for raw-sgemv, which selects nothing). */
  recallAt6: number | null;
  /** Index memory (vectors/codes/graph), MB. */
  memoryMB: number | null;
  /** Why a path did not run, or what it is. */
  note?: string;
}

export interface SearchBenchReport {
  vectors: number;
  dim: number;
  queries: number;
  paths: SearchBenchPath[];
}

const K = 6;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function timeEach(nq: number, run: (i: number) => void): number[] {
  run(0); // warm-up
  const t: number[] = [];
  for (let i = 0; i < nq; i++) {
    const t0 = performance.now();
    run(i);
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b);
}

function recall(got: readonly number[][], truth: readonly number[][]): number {
  let s = 0;
  truth.forEach((t, i) => {
    const want = new Set(t);
    s += (got[i] ?? []).filter((id) => want.has(id)).length / Math.max(1, t.length);
  });
  return truth.length === 0 ? 1 : s / truth.length;
}

export async function benchSearch(o: SearchBenchOptions = {}): Promise<SearchBenchReport> {
  const n = o.vectors ?? 44_441;
  const nq = o.queries ?? 200;
  const d = o.dimension ?? 2048;
  const say = o.progress ?? (() => {});
  const faiss = loadFaiss();
  say(`generating ${n} clustered unit vectors (d ${d}) and ${nq} queries`);
  const { vectors, queries } = clusteredData(n, nq, d);
  const q = (i: number) => queries.subarray(i * d, (i + 1) * d);
  const paths: SearchBenchPath[] = [];
  const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
  const row = (name: string, times: number[], ids: number[][] | null, memoryMB: number | null, note?: string) => {
    paths.push({
      name,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      ratioToRaw: null,
      recallAt6: ids === null ? null : recall(ids, truth),
      memoryMB,
      ...(note === undefined ? {} : { note }),
    });
  };
  const idsOf = (hits: SearchHit[]) => hits.map((h) => h.id);

  const flat = new faiss.Index(d);
  flat.addFloat32(vectors);
  useThreads(faiss, 1);
  // Truth: the exact path (the tests check it is IndexFlatL2's own answer).
  const truth: number[][] = [];
  for (let i = 0; i < nq; i++) truth.push(Array.from(flat.searchScan(q(i), K).labels));

  say('raw-sgemv');
  row(
    'raw-sgemv',
    timeEach(nq, (i) => flat.rawScan(q(i))),
    null,
    mb(n * d * 4),
    'cblas_sgemv over the matrix, no top-k',
  );
  say('faiss-flat');
  const faissIds: number[][] = [];
  row(
    'faiss-flat',
    timeEach(nq, (i) => {
      faissIds[i] = Array.from(flat.searchFloat32(q(i), K).labels);
    }),
    faissIds,
    mb(n * d * 4),
    'IndexFlatL2.search (Debian FAISS)',
  );
  say('exact');
  const exactIds: number[][] = [];
  row(
    'exact',
    timeEach(nq, (i) => {
      exactIds[i] = Array.from(flat.searchScan(q(i), K).labels);
    }),
    exactIds,
    mb(n * d * 4),
    'searchScan: sgemv + cached norms + exact top-k',
  );

  say('flat-sq8 (building)');
  const positions = Array.from({ length: n }, (_, i) => i);
  const sq8 = createIndex({
    kind: 'flat-sq8',
    dimension: d,
    threads: availableParallelism(),
    exactVectors: (ids) => ids.map((id) => vectors.subarray(id * d, (id + 1) * d)),
  });
  for (let from = 0; from < n; from += 4096) {
    const to = Math.min(n, from + 4096);
    sq8.add(
      positions.slice(from, to),
      positions.slice(from, to).map((i) => vectors.subarray(i * d, (i + 1) * d)),
    );
  }
  const sq8Ids: number[][] = [];
  row(
    'flat-sq8',
    timeEach(nq, (i) => {
      sq8Ids[i] = idsOf(sq8.search(q(i), K));
    }),
    sq8Ids,
    mb(n * (d + 8)),
    '8-bit codes (AVX2 scan), top 64 re-ranked with fp32',
  );
  await sq8.close();

  const ef = o.efSearch ?? 96;
  say(`hnsw (building HNSW32 over ${n} vectors; the slow part)`);
  const hnsw = createIndex({
    kind: 'hnsw',
    dimension: d,
    efSearch: ef,
    threads: availableParallelism(),
    compactAt: false,
  });
  for (let from = 0; from < n; from += 8192) {
    const to = Math.min(n, from + 8192);
    hnsw.add(
      positions.slice(from, to),
      positions.slice(from, to).map((i) => vectors.subarray(i * d, (i + 1) * d)),
    );
  }
  const hnswIds: number[][] = [];
  row(
    'hnsw',
    timeEach(nq, (i) => {
      hnswIds[i] = idsOf(hnsw.search(q(i), K));
    }),
    hnswIds,
    mb(n * d * 4 + n * 32 * 2 * 8),
    `HNSW32, efSearch ${ef}`,
  );
  await hnsw.close();

  say('sklearn (python3)');
  const sk = await runSklearn(vectors, queries, d, K, o.python);
  if (sk.ok)
    row(
      'sklearn',
      [...sk.timesMs].sort((a, b) => a - b),
      sk.ids,
      mb(n * d * 4),
      'NearestNeighbors brute euclidean',
    );
  else
    paths.push({
      name: 'sklearn',
      p50Ms: null,
      p99Ms: null,
      ratioToRaw: null,
      recallAt6: null,
      memoryMB: null,
      note: `not available: ${sk.reason}`,
    });

  const raw = paths[0]?.p50Ms ?? null;
  for (const p of paths) p.ratioToRaw = p.p50Ms === null || raw === null || raw <= 0 ? null : p.p50Ms / raw;
  return { vectors: n, dim: d, queries: nq, paths };
}

/** The report as a table. */
export function formatSearchBench(r: SearchBenchReport): string {
  const f = (v: number | null, digits: number) => (v === null ? '–' : v.toFixed(digits));
  const rows = r.paths.map((p) => [
    p.name,
    p.p50Ms === null ? 'not available' : f(p.p50Ms, 2),
    f(p.p99Ms, 2),
    p.ratioToRaw === null ? '–' : `${p.ratioToRaw.toFixed(2)}×`,
    f(p.recallAt6, 4),
    f(p.memoryMB, 0),
    p.note ?? '',
  ]);
  const head = ['path', 'p50 ms', 'p99 ms', '× raw', 'recall@6', 'MB', 'what'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => (x[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number),
      )
      .join('  ');
  return [
    `Search, ${r.vectors} × ${r.dim} clustered unit vectors, ${r.queries} queries one at a time, k = ${K}`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
