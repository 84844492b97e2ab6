/**
 * `npm run bench:responsive`: how responsive the real `lookalike start` process stays while it
 * builds its first index, and then when idle.
 *
 * Starts `lookalike start` as a child, as `npm start` runs it (the built CLI, apps/cli/dist; run
 * `npm run build` first, or pass --source for the TypeScript sources through tsx, which compiles
 * modules while it runs; the local page on, no chat tokens, untrained weights) with ../shared/data/fashion-sample (1,731 photos) as LOOKALIKE_CATALOG_DIR on an
 * empty data dir, and records, during the first index and then for --idle seconds after it:
 *   - GET /healthz latency p50, p99, max (one request every --health-ms, default 100 ms);
 *   - the process's event-loop lag p99 and max (read from /metrics every second: the
 *     lookalike_event_loop_lag_* gauges, fixed 5 s windows; p99 here is the worst window's);
 *   - POST /api/similar latency p50 and p99 at one query every 2 s (a sample photo, multipart,
 *     as the page sends it), with each answer's outcome (results, INDEX_BUILDING, indexing notice);
 *   - reindex throughput (images added / reindex duration, from the summary line).
 * Prints a table, the ratios and the issue's targets, and writes test/.tmp/bench-responsive.json.
 * Options: --dir DIR --labels CSV (another catalog), --idle S (default 40), --health-ms N,
 * --cpu-prof DIR (the child writes V8 CPU profiles of its threads there, to find what blocks the loop),
 * --source (run apps/cli/src through tsx instead of the built dist).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { REPO_ROOT, spawnApp } from '../helpers/process.ts';

const SAMPLE = join(REPO_ROOT, '..', 'shared', 'data', 'fashion-sample');
/** Reindex throughput on main before issue 9 (img/s on the sample, this machine). */
const BASELINE_IMG_PER_S = 12.6;

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: join(SAMPLE, 'images') },
    labels: { type: 'string', default: join(SAMPLE, 'labels.csv') },
    idle: { type: 'string', default: '40' },
    'health-ms': { type: 'string', default: '100' },
    'cpu-prof': { type: 'string' },
    source: { type: 'boolean', default: false },
  },
});
const ENTRY = values.source ? 'apps/cli/src/main.ts' : 'apps/cli/dist/main.js';
if (!existsSync(join(REPO_ROOT, ENTRY))) {
  console.error(`${ENTRY} is missing: run \`npm run build\` first (or pass --source).`);
  process.exit(2);
}
const idleSeconds = Number(values.idle);
const healthEveryMs = Number(values['health-ms']);
const QUERY_EVERY_MS = 2000;
const METRICS_EVERY_MS = 1000;

type Phase = 'reindex' | 'idle';

interface Sample {
  phase: Phase;
  ms: number;
}
interface QuerySample extends Sample {
  status: number;
  outcome: string;
}
interface LagSample {
  phase: Phase;
  p99: number;
  max: number;
  /** Seconds since the server was up. */
  at: number;
  /** The reindex phase the process reported, and its progress. */
  reindex: string;
}

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (!existsSync(values.dir)) throw new Error(`no catalog at ${values.dir} (pass --dir)`);
  const photos = (await readdir(values.dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  // Queries use photos spread over the catalog (duplicates of catalog items are left out of results).
  const queryPhotos = await Promise.all(
    Array.from({ length: 16 }, (_, i) => photos[Math.floor((i * photos.length) / 16)]!).map(async (f) => ({
      name: f,
      bytes: new Uint8Array(await readFile(join(values.dir, f))),
    })),
  );
  const modelsDir = await ensureUntrainedModels();
  await mkdir(TEST_TMP_DIR, { recursive: true });
  const work = await mkdtemp(join(TEST_TMP_DIR, 'bench-responsive-'));
  console.log(`catalog: ${values.dir} (${photos.length} images); data dir: ${work}/data (empty)`);

  const t0 = performance.now();
  console.log(`running ${ENTRY}`);
  const app = await spawnApp(
    ENTRY,
    ['start'],
    work,
    {
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_DATA_DIR: join(work, 'data'),
      LOOKALIKE_CATALOG_DIR: values.dir,
      LOOKALIKE_LABELS: values.labels,
      LOOKALIKE_RATE_PER_MINUTE: '10000',
      HOST: '127.0.0.1',
      PORT: '0',
      LOCAL_PAGE: 'on',
      LOG_LEVEL: 'warn',
    },
    values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`],
    values.source,
  );
  const upAfter = (performance.now() - t0) / 1000;
  console.log(`server up after ${upAfter.toFixed(1)} s at ${app.base}; first index running`);

  let phase: Phase = 'reindex';
  let stop = false;
  const health: Sample[] = [];
  const queries: QuerySample[] = [];
  const lags: LagSample[] = [];
  let firstResultsAt: number | undefined;

  const doneLine = () => app.logs.find((l) => /Reindex done in [\d.]+ s/.test(l) || /Indexing failed/.test(l));

  const pollHealth = async () => {
    while (!stop) {
      const p = phase;
      const s = performance.now();
      try {
        const res = await fetch(`${app.base}/healthz`);
        await res.arrayBuffer();
        health.push({ phase: p, ms: performance.now() - s });
      } catch {
        health.push({ phase: p, ms: Number.POSITIVE_INFINITY });
      }
      await sleep(Math.max(0, healthEveryMs - (performance.now() - s)));
    }
  };
  const pollMetrics = async () => {
    while (!stop) {
      const p = phase;
      try {
        const text = await (await fetch(`${app.base}/metrics`)).text();
        const p99 = gauge(text, 'lookalike_event_loop_lag_p99_seconds');
        const max = gauge(text, 'lookalike_event_loop_lag_max_seconds');
        const reindexPhase = /^lookalike_reindex_phase\{phase="(\w+)"\} 1$/m.exec(text)?.[1] ?? '-';
        const done = gauge(text, 'lookalike_reindex_done');
        const total = gauge(text, 'lookalike_reindex_total');
        if (p99 !== undefined && max !== undefined) {
          lags.push({
            phase: p,
            p99: p99 * 1000,
            max: max * 1000,
            at: (performance.now() - started) / 1000,
            reindex: reindexPhase === '-' ? '-' : `${reindexPhase} ${done}/${total}`,
          });
        }
      } catch {
        // the process is going away
      }
      await sleep(METRICS_EVERY_MS);
    }
  };
  const query = async (n: number) => {
    const photo = queryPhotos[n % queryPhotos.length]!;
    const p = phase;
    const form = new FormData();
    form.append('k', '6');
    form.append('image', new Blob([photo.bytes], { type: 'image/jpeg' }), photo.name);
    const s = performance.now();
    try {
      const res = await fetch(`${app.base}/api/similar`, { method: 'POST', body: form });
      const body = (await res.json()) as {
        results?: unknown[];
        notices?: { code: string }[];
        error?: { code: string };
      };
      const ms = performance.now() - s;
      let outcome = body.error?.code ?? 'ok';
      if (res.ok && (body.notices ?? []).some((x) => x.code === 'INDEXING')) outcome = 'ok+INDEXING';
      if (res.ok && (body.results?.length ?? 0) > 0 && firstResultsAt === undefined) firstResultsAt = s;
      queries.push({ phase: p, ms, status: res.status, outcome });
    } catch (err) {
      queries.push({ phase: p, ms: performance.now() - s, status: 0, outcome: String(err) });
    }
  };
  const pollQueries = async () => {
    const pending: Promise<void>[] = [];
    for (let n = 0; !stop; n++) {
      pending.push(query(n));
      await sleep(QUERY_EVERY_MS);
    }
    await Promise.all(pending);
  };

  const started = performance.now();
  const loops = [pollHealth(), pollMetrics(), pollQueries()];
  while (doneLine() === undefined) {
    if (app.child.exitCode !== null) throw new Error(`lookalike start exited:\n${app.logs.join('')}`);
    await sleep(200);
  }
  const reindexEndedAt = performance.now();
  phase = 'idle';
  console.log(`first index done after ${((reindexEndedAt - started) / 1000).toFixed(1)} s: ${doneLine()?.trim()}`);
  await sleep(idleSeconds * 1000);
  stop = true;
  await Promise.all(loops);

  const exited = new Promise<number | null>((resolve) => app.child.once('exit', (code) => resolve(code)));
  app.child.kill('SIGTERM');
  const exitCode = await exited;
  await rm(work, { recursive: true, force: true });

  const summary = /Reindex done in ([\d.]+) s: (\d+) added, (\d+) updated, \d+ removed, (\d+) failed/.exec(
    doneLine() ?? '',
  );
  const reindexSeconds = summary === null ? Number.NaN : Number(summary[1]);
  const added = summary === null ? Number.NaN : Number(summary[2]) + Number(summary[3]);
  const throughput = added / reindexSeconds;

  const rows = (['reindex', 'idle'] as const).map((ph) => {
    const h = health.filter((x) => x.phase === ph).map((x) => x.ms);
    const q = queries.filter((x) => x.phase === ph);
    const qOk = q.filter((x) => x.status === 200).map((x) => x.ms);
    const l = lags.filter((x) => x.phase === ph);
    const outcomes: Record<string, number> = {};
    for (const x of q) outcomes[x.outcome] = (outcomes[x.outcome] ?? 0) + 1;
    return {
      phase: ph,
      healthN: h.length,
      healthP50: percentile(h, 50),
      healthP99: percentile(h, 99),
      healthMax: h.length === 0 ? Number.NaN : Math.max(...h),
      lagP99: l.length === 0 ? Number.NaN : Math.max(...l.map((x) => x.p99)),
      lagMax: l.length === 0 ? Number.NaN : Math.max(...l.map((x) => x.max)),
      queryN: q.length,
      queryP50: percentile(qOk, 50),
      queryP99: percentile(qOk, 99),
      allQueryP99: percentile(
        q.map((x) => x.ms),
        99,
      ),
      outcomes,
    };
  });
  const [during, idle] = rows as [(typeof rows)[number], (typeof rows)[number]];
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));
  console.log('');
  console.log(
    'phase    | /healthz n   p50    p99    max (ms) | loop lag p99   max (ms) | /api/similar n  p50     p99 (ms, 200s)',
  );
  for (const r of rows) {
    console.log(
      `${r.phase.padEnd(8)} | ${String(r.healthN).padStart(6)} ${f(r.healthP50).padStart(6)} ${f(r.healthP99).padStart(6)} ${f(r.healthMax).padStart(6)}      | ${f(r.lagP99).padStart(8)} ${f(r.lagMax).padStart(6)}      | ${String(r.queryN).padStart(6)} ${f(r.queryP50).padStart(7)} ${f(r.queryP99).padStart(7)}`,
    );
  }
  for (const r of rows) console.log(`outcomes ${r.phase}: ${JSON.stringify(r.outcomes)}`);
  // The lag windows are 5 s long and read every second: the same window shows up several times.
  const windows = lags.filter((l, i) => i === 0 || l.max !== lags[i - 1]!.max || l.p99 !== lags[i - 1]!.p99);
  const worst = [...windows].sort((a, b) => b.max - a.max).slice(0, 5);
  console.log(
    `worst event-loop windows: ${worst.map((w) => `${f(w.max)} ms at ${w.at.toFixed(0)} s (${w.phase}, ${w.reindex})`).join('; ')}`,
  );
  const ratio = during.queryP99 / idle.queryP99;
  console.log('');
  console.log(`reindex: ${added} images in ${f(reindexSeconds)} s = ${throughput.toFixed(2)} img/s`);
  if (firstResultsAt !== undefined) {
    console.log(
      `first answer with results: ${((firstResultsAt - started) / 1000).toFixed(1)} s after the server was up`,
    );
  }
  console.log(`query p99 during reindex / idle p99: ${ratio.toFixed(2)}×`);
  const targets: [string, boolean, string][] = [
    ['/healthz p99 during reindex ≤ 50 ms', during.healthP99 <= 50, `${f(during.healthP99)} ms`],
    ['event-loop lag max during reindex ≤ 100 ms', during.lagMax <= 100, `${f(during.lagMax)} ms`],
    ['query p99 during reindex ≤ 3× idle p99', ratio <= 3, `${ratio.toFixed(2)}×`],
    [
      `reindex throughput ≥ 90% of ${BASELINE_IMG_PER_S} img/s`,
      throughput >= 0.9 * BASELINE_IMG_PER_S,
      `${throughput.toFixed(2)} img/s (${((100 * throughput) / BASELINE_IMG_PER_S).toFixed(0)}%)`,
    ],
  ];
  console.log('');
  for (const [name, ok, got] of targets) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${got}`);
  console.log(`lookalike start exited with ${exitCode} after SIGTERM`);
  await writeFile(
    join(TEST_TMP_DIR, 'bench-responsive.json'),
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        catalog: values.dir,
        upAfter,
        reindexSeconds,
        added,
        throughput,
        ratio,
        rows,
        exitCode,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
