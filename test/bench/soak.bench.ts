/**
 * `npm run bench:soak`: does a long run of queries leak memory or file descriptors in the real
 * `lookalike start` process?
 *
 * Starts `lookalike start` as `npm start` runs it (the built CLI, apps/cli/dist; run `npm run build`
 * first, or pass --source for the TypeScript sources through tsx) on an empty data dir, untrained
 * weights, the local page on, no chat tokens. By default it draws and indexes its demo catalog
 * (400 images, as a first `npm start` does); --dir/--labels use another folder instead. Once the
 * first index is done it sends --queries (default 1,000) POST /api/similar uploads (multipart, as
 * the page sends them; photos of the catalog, k=6) from --concurrency (default 8) clients at once
 * over keep-alive connections, and prints:
 *   - latency p50 and p99 (all answers, and those with status 200);
 *   - answers by outcome: `ok`, or the error code (only BUSY is acceptable);
 *   - the server's resident memory (VmRSS in /proc/<pid>/status) after answers 200, 600 and 1,000
 *     (and every 100th);
 *   - its open file descriptors (/proc/<pid>/fd) before and after the run.
 * "Before" is read after a warm-up of one query per client (not counted; the first answers load
 * what a process loads once), "after" once the run's connections are closed. Targets: RSS at
 * 1,000 within ±10% of RSS at 200; the fd count unchanged. Prints PASS/FAIL lines and writes
 * test/.tmp/bench-soak.json. Linux only (/proc).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { REPO_ROOT, spawnApp } from '../helpers/process.ts';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    dir: { type: 'string' },
    labels: { type: 'string' },
    source: { type: 'boolean', default: false },
  },
});
const ENTRY = values.source ? 'apps/cli/src/main.ts' : 'apps/cli/dist/main.js';
if (!existsSync(join(REPO_ROOT, ENTRY))) {
  console.error(`${ENTRY} is missing: run \`npm run build\` first (or pass --source).`);
  process.exit(2);
}
if (!existsSync('/proc/self/status')) {
  console.error('bench:soak reads /proc/<pid>/status and /proc/<pid>/fd: Linux only.');
  process.exit(2);
}
const CATALOG = values.dir === undefined ? undefined : resolve(values.dir);
const LABELS = values.labels === undefined ? undefined : resolve(values.labels);
const QUERIES = Number(values.queries);
const CONCURRENCY = Number(values.concurrency);
/** Answers after which the server's RSS is compared: 200, 600 and 1,000 of 1,000 (the same fractions of --queries). */
const RSS_AT = [0.2, 0.6, 1].map((x) => Math.max(1, Math.round(x * QUERIES)));

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VmRSS of `pid` in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

/** The open fds of `pid`, each as what it points at (sockets and pipes without their inode). */
async function openFds(pid: number): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const targets = await Promise.all(
    (await readdir(dir)).map(async (fd) => {
      try {
        return (await readlink(join(dir, fd))).replace(/^(socket|pipe|anon_inode):\[?\d*\]?/, '$1');
      } catch {
        return undefined; // closed while we looked
      }
    }),
  );
  return targets.filter((t): t is string => t !== undefined).sort();
}

/** The fds once the count has stopped changing (connections just closed take a moment on the server side). */
async function settledFds(pid: number): Promise<string[]> {
  let last = await openFds(pid);
  for (let i = 0; i < 20; i++) {
    await sleep(500);
    const now = await openFds(pid);
    if (now.length === last.length) return now;
    last = now;
  }
  return last;
}

/** What `after` holds that `before` does not, and the reverse, by target. */
function fdDiff(before: readonly string[], after: readonly string[]): string {
  const count = (xs: readonly string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const b = count(before);
  const a = count(after);
  const lines: string[] = [];
  for (const k of new Set([...b.keys(), ...a.keys()])) {
    const d = (a.get(k) ?? 0) - (b.get(k) ?? 0);
    if (d !== 0) lines.push(`${d > 0 ? '+' : ''}${d} ${k}`);
  }
  return lines.join(', ');
}

interface Photo {
  name: string;
  type: string;
  bytes: Buffer;
}

/** One multipart upload body, as the page's form sends it. */
function multipart(photo: Photo): { body: Buffer; type: string } {
  const boundary = `----lookalike-soak-${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n6\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${photo.name}"\r\n` +
      `Content-Type: ${photo.type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, photo.bytes, tail]), type: `multipart/form-data; boundary=${boundary}` };
}

interface Answer {
  ms: number;
  status: number;
  outcome: string;
}

/** POST /api/similar over `agent`; never rejects (a transport error is an outcome too). */
function query(base: URL, agent: Agent, photo: Photo): Promise<Answer> {
  const { body, type } = multipart(photo);
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      new URL('/api/similar', base),
      { method: 'POST', agent, headers: { 'content-type': type, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - started;
          let outcome = `HTTP_${res.statusCode}`;
          try {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              results?: unknown[];
              error?: { code?: string };
            };
            outcome = json.error?.code ?? (res.statusCode === 200 && Array.isArray(json.results) ? 'ok' : outcome);
          } catch {
            // not JSON: the status names it
          }
          resolve({ ms, status: res.statusCode ?? 0, outcome });
        });
        res.on('error', (err) => resolve({ ms: performance.now() - started, status: 0, outcome: err.message }));
      },
    );
    req.on('error', (err) =>
      resolve({ ms: performance.now() - started, status: 0, outcome: `transport: ${(err as Error).message}` }),
    );
    req.end(body);
  });
}

async function photosOf(dir: string): Promise<Photo[]> {
  const names = (await readdir(dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  if (names.length === 0) throw new Error(`no images in ${dir}`);
  // 32 photos spread over the catalog (a catalog item's exact duplicate is left out of its results).
  const picked = Array.from(
    { length: Math.min(32, names.length) },
    (_, i) => names[Math.floor((i * names.length) / Math.min(32, names.length))]!,
  );
  return Promise.all(
    picked.map(async (name) => ({
      name,
      type: /\.png$/i.test(name) ? 'image/png' : 'image/jpeg',
      bytes: await readFile(join(dir, name)),
    })),
  );
}

async function main(): Promise<void> {
  const modelsDir = await ensureUntrainedModels();
  await mkdir(TEST_TMP_DIR, { recursive: true });
  const work = await mkdtemp(join(TEST_TMP_DIR, 'bench-soak-'));
  const dataDir = join(work, 'data');
  const catalogEnv: Record<string, string> =
    CATALOG === undefined
      ? {}
      : {
          LOOKALIKE_CATALOG_DIR: CATALOG,
          ...(LABELS === undefined ? {} : { LOOKALIKE_LABELS: LABELS }),
        };
  console.log(
    `catalog: ${CATALOG ?? `the demo catalog (drawn into ${dataDir}/demo-catalog)`}; running ${ENTRY} start; ` +
      `${QUERIES} queries at ${CONCURRENCY} concurrent`,
  );
  const t0 = performance.now();
  const app = await spawnApp(
    ENTRY,
    ['start'],
    work,
    {
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_DATA_DIR: dataDir,
      ...catalogEnv,
      LOOKALIKE_RATE_PER_MINUTE: '10000',
      LOOKALIKE_PAGE_RATE_PER_MINUTE: '10000',
      HOST: '127.0.0.1',
      PORT: '0',
      LOCAL_PAGE: 'on',
      LOG_LEVEL: 'warn',
    },
    [],
    values.source,
  );
  const pid = app.child.pid as number;
  const base = new URL(app.base);
  const exited = new Promise<number | null>((resolve) => app.child.once('exit', (code) => resolve(code)));
  try {
    const doneLine = () =>
      app.logs.find((l) => /Reindex done in [\d.]+ s/.test(l) || /Indexing (failed|refused)/.test(l));
    while (doneLine() === undefined) {
      if (app.child.exitCode !== null) throw new Error(`lookalike start exited:\n${app.logs.join('')}`);
      await sleep(250);
    }
    if (/Indexing (failed|refused)/.test(doneLine()!)) throw new Error(`the first index failed:\n${app.logs.join('')}`);
    console.log(
      `server up, first index done after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${doneLine()!.trim()}`,
    );
    const photos = await photosOf(CATALOG ?? join(dataDir, 'demo-catalog', 'images'));

    const fdsAtReady = await settledFds(pid);
    const rssAtReady = await rssMiB(pid);
    // Warm-up: one query per client, on connections closed before "before" is read.
    const warmAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const warm = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => query(base, warmAgent, photos[i % photos.length]!)),
    );
    warmAgent.destroy();
    const fdsBefore = await settledFds(pid);
    const rssBefore = await rssMiB(pid);
    console.log(
      `ready: RSS ${rssAtReady.toFixed(1)} MiB, ${fdsAtReady.length} fds; after the warm-up (${warm.map((w) => w.outcome).join(' ')}): ` +
        `RSS ${rssBefore.toFixed(1)} MiB, ${fdsBefore.length} fds`,
    );

    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const answers: Answer[] = [];
    const rss = new Map<number, number>();
    let sent = 0;
    const runStarted = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < QUERIES) {
          const n = sent++;
          answers.push(await query(base, agent, photos[n % photos.length]!));
          const done = answers.length;
          if (done % 100 === 0 || RSS_AT.includes(done)) {
            rss.set(done, await rssMiB(pid));
            if (done % 200 === 0) process.stdout.write(`  ${done} answers, RSS ${rss.get(done)!.toFixed(1)} MiB\n`);
          }
        }
      }),
    );
    const runSeconds = (performance.now() - runStarted) / 1000;
    agent.destroy();
    const fdsAfter = await settledFds(pid);
    const rssAfter = await rssMiB(pid);

    const all = answers.map((a) => a.ms);
    const ok = answers.filter((a) => a.status === 200).map((a) => a.ms);
    const outcomes: Record<string, number> = {};
    for (const a of answers) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
    const unacceptable = Object.entries(outcomes).filter(([k]) => k !== 'ok' && k !== 'BUSY');
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));

    console.log('');
    console.log(
      `${answers.length} answers in ${f(runSeconds)} s (${(answers.length / runSeconds).toFixed(1)} queries/s)`,
    );
    console.log(
      `latency, all answers: p50 ${f(percentile(all, 50))} ms, p99 ${f(percentile(all, 99))} ms, max ${f(Math.max(...all))} ms`,
    );
    console.log(`latency, status 200 (${ok.length}): p50 ${f(percentile(ok, 50))} ms, p99 ${f(percentile(ok, 99))} ms`);
    console.log(`outcomes: ${JSON.stringify(outcomes)}`);
    console.log(
      `RSS (MiB): ${RSS_AT.map((n) => `at ${n}: ${f(rss.get(n) ?? Number.NaN)}`).join(', ')}; idle after: ${f(rssAfter)}`,
    );
    console.log(
      `RSS curve (answers:MiB): ${[...rss.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([n, v]) => `${n}:${v.toFixed(0)}`)
        .join(' ')}`,
    );
    console.log(
      `open fds: before ${fdsBefore.length}, after ${fdsAfter.length}${fdsAfter.length === fdsBefore.length ? '' : ` (${fdDiff(fdsBefore, fdsAfter)})`}`,
    );

    const first = rss.get(RSS_AT[0] ?? Number.NaN) ?? Number.NaN;
    const last = rss.get(RSS_AT.at(-1) ?? Number.NaN) ?? Number.NaN;
    const drift = (last - first) / first;
    const targets: [string, boolean, string][] = [
      [
        `RSS at ${RSS_AT.at(-1)} within ±10% of RSS at ${RSS_AT[0]}`,
        Math.abs(drift) <= 0.1,
        `${f(first)} → ${f(last)} MiB (${drift >= 0 ? '+' : ''}${(100 * drift).toFixed(1)}%)`,
      ],
      ['open fds unchanged', fdsAfter.length === fdsBefore.length, `${fdsBefore.length} → ${fdsAfter.length}`],
      [
        'no errors but BUSY',
        unacceptable.length === 0,
        unacceptable.length === 0 ? `BUSY ${outcomes.BUSY ?? 0}` : JSON.stringify(Object.fromEntries(unacceptable)),
      ],
    ];
    console.log('');
    for (const [name, pass, got] of targets) console.log(`${pass ? 'PASS' : 'FAIL'}  ${name}: ${got}`);

    await writeFile(
      join(TEST_TMP_DIR, 'bench-soak.json'),
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          entry: ENTRY,
          catalog: CATALOG ?? 'demo',
          queries: QUERIES,
          concurrency: CONCURRENCY,
          runSeconds,
          latency: {
            p50: percentile(all, 50),
            p99: percentile(all, 99),
            okP50: percentile(ok, 50),
            okP99: percentile(ok, 99),
          },
          outcomes,
          rssMiB: Object.fromEntries([...rss.entries()].sort((a, b) => a[0] - b[0])),
          rssReady: rssAtReady,
          rssBefore,
          rssAfter,
          fds: {
            ready: fdsAtReady.length,
            before: fdsBefore.length,
            after: fdsAfter.length,
            diff: fdDiff(fdsBefore, fdsAfter),
          },
          targets: targets.map(([name, pass, got]) => ({ name, pass, got })),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    if (app.child.exitCode === null) app.child.kill('SIGTERM');
    const code = await exited;
    console.log(`lookalike start exited with ${code} after SIGTERM`);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
