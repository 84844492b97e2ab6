/**
 * `npm run bench:scale`: the scale-out mode against the embedded one, in one run, on private
 * PostgreSQL and Redis servers, with untrained weights, over ../shared/data/fashion-sample
 * (1,731 photos; a generated demo catalog when it is missing).
 *
 * Reports:
 * - reindex images/s: in-process (the embedded SQLite catalog, `lookalike index`), distributed with
 *   1 worker process and with 2 worker processes (`lookalike worker` + the `lookalike index`
 *   coordinator); each rate is the run's own embedding time from its summary (process start-up
 *   and model loading excluded), and the in-process run is repeated last, so the ratios compare
 *   runs under the same background load;
 * - replica start-up: loading the sample's vectors from PostgreSQL (binary COPY into FAISS, then
 *   the metadata), and a synthetic 44,441 × 2048 catalog written straight into PostgreSQL
 *   (target ≤ 30 s, flat);
 * - answer p50 through a PostgreSQL replica vs the single-process catalog (`lookalike start`
 *   each, the same photos, alternating).
 *
 * Options: --count N (use the first N photos), --queries N (default 40).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDemoCatalog, scanImages } from '@lookalike/catalog';
import { modelKey, openReplicaCatalog, type Reindexer } from '@lookalike/cluster';
import { LookalikeError, silentLogger, type WeightsInfo } from '@lookalike/core';
import { readManifest, weightsInfo } from '@lookalike/embedder';
import { encodeVector, openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { answerIds, stopAll } from '../cluster/fixtures/distributed.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { startPostgres } from '../helpers/pg-server.ts';
import { type RunningCli, runCli, type SpawnedApp, spawnApp, spawnCli } from '../helpers/process.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { rng } from '../helpers/rng.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = join(REPO, '..', 'shared', 'data', 'fashion-sample');
const SYNTHETIC = 44_441;
const DIM = 2048;

const { values } = parseArgs({
  options: { count: { type: 'string' }, queries: { type: 'string', default: '40' } },
});
const queries = Number(values.queries);
const line = (k: string, v: string) => console.log(`${k.padEnd(50)} ${v}`);

/** "embedded N image(s) in X s" of a reindex summary → images/s. */
function rateOf(stdout: string): { embedded: number; seconds: number; rate: number } {
  const m = /embedded (\d+) image\(s\) in ([\d.]+) s/.exec(stdout);
  if (m === null) throw new Error(`no summary in:\n${stdout}`);
  const embedded = Number(m[1]);
  const seconds = Number(m[2]);
  return { embedded, seconds, rate: embedded / seconds };
}

/** A folder of symlinks to the first `count` photos (so every run indexes the same files). */
async function linkFolder(files: { absPath: string; relPath: string }[], to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  for (const f of files) {
    const p = join(to, f.relPath);
    await mkdir(dirname(p), { recursive: true });
    await symlink(f.absPath, p);
  }
}

/** Writes `n` random unit vectors of `model` (and their items) straight into PostgreSQL. */
async function writeSynthetic(pg: PgCatalog, catalog: string, model: string, n: number): Promise<void> {
  const rand = rng(11);
  await pg.pool.query('INSERT INTO catalogs (name, version) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING', [catalog]);
  const ids = await pg.pool.query<{ id: string }>(
    `INSERT INTO items (catalog, source_key, content_hash, metadata, version)
     SELECT $1, 'synthetic/' || g || '.jpg', md5(g::text), jsonb_build_object('id', g::text, 'labels', '{}'::jsonb), 1
       FROM generate_series(1, $2) AS g RETURNING id`,
    [catalog, n],
  );
  const all = ids.rows.map((r) => r.id);
  for (let i = 0; i < all.length; i += 1000) {
    const part = all.slice(i, i + 1000);
    const vectors = part.map(() => {
      const v = new Float32Array(DIM);
      let norm = 0;
      for (let d = 0; d < DIM; d++) {
        v[d] = rand() - 0.5;
        norm += v[d]! * v[d]!;
      }
      const s = 1 / Math.sqrt(norm);
      for (let d = 0; d < DIM; d++) v[d]! *= s;
      return encodeVector(v);
    });
    await pg.pool.query(
      `INSERT INTO vectors (item_id, model, vector, version) SELECT id, $2, v, 1
         FROM unnest($1::bigint[], $3::bytea[]) AS a(id, v)`,
      [part, model, vectors],
    );
  }
}

/** Opens a replica over `catalog` and times it until loaded. */
async function timeReplicaLoad(
  pg: PgCatalog,
  catalog: string,
  weights: WeightsInfo,
  imagesDir: string,
): Promise<{ seconds: number; size: number }> {
  const idle: Reindexer = {
    run: () => Promise.reject(new LookalikeError('INTERNAL', 'not in this benchmark')),
    progress: () => null,
    close: async () => {},
  };
  const t0 = performance.now();
  const replica = await openReplicaCatalog({
    pg,
    name: catalog,
    weights,
    dimension: DIM,
    imagesDir,
    reindexer: idle,
    logger: silentLogger,
  });
  const seconds = (performance.now() - t0) / 1000;
  const size = replica.size();
  await replica.close();
  return { seconds, size };
}

async function p50(base: string, photos: Uint8Array[]): Promise<number> {
  const times: number[] = [];
  for (const photo of photos) {
    const t = performance.now();
    await answerIds(base, photo);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  const work = join(TEST_TMP_DIR, 'bench-scale');
  await rm(work, { recursive: true, force: true });
  let sourceDir: string;
  let labelsPath: string | undefined;
  let source: string;
  if (existsSync(join(SAMPLE, 'images'))) {
    sourceDir = join(SAMPLE, 'images');
    labelsPath = join(SAMPLE, 'labels.csv');
    source = '../shared/data/fashion-sample';
  } else {
    const demo = await generateDemoCatalog(join(work, 'demo'), { count: 400, seed: 42 });
    sourceDir = demo.imagesDir;
    labelsPath = demo.labelsPath;
    source = 'generated demo catalog (fashion-sample not found)';
  }
  const all = (await scanImages(sourceDir)).files;
  const files = values.count === undefined ? all : all.slice(0, Number(values.count));
  const imagesDir = join(work, 'images');
  await linkFolder(files, imagesDir);
  const modelsDir = await ensureUntrainedModels();
  const weights = weightsInfo(await readManifest(modelsDir));
  const [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
  const pg = openPgCatalog(pgServer.url);
  await pg.migrate();
  const running: (RunningCli | SpawnedApp)[] = [];
  console.log(`bench:scale — ${source}: ${files.length} photos, untrained weights, PostgreSQL 15, Redis 7`);
  try {
    const base = {
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_CATALOG_DIR: imagesDir,
      ...(labelsPath === undefined ? {} : { LOOKALIKE_LABELS: labelsPath }),
      LOG_LEVEL: 'warn',
    };
    const inProcess = async (label: string) => {
      const r = await runCli(['index', imagesDir], { ...base, LOOKALIKE_DATA_DIR: join(work, `data-${label}`) });
      if (r.code !== 0) throw new Error(`in-process index failed:\n${r.stderr}`);
      return rateOf(r.stdout);
    };
    const distributed = async (workers: number) => {
      const name = `workers-${workers}`;
      const env = {
        ...base,
        DATABASE_URL: pgServer.url,
        REDIS_URL: redis.url,
        LOOKALIKE_CATALOG_NAME: name,
        LOOKALIKE_DATA_DIR: join(work, `data-${name}`),
        // Each worker process gets an equal share of the cores.
        ...(workers > 1 ? { LOOKALIKE_THREADS: '1' } : {}),
      };
      const started: RunningCli[] = [];
      for (let i = 0; i < workers; i++) {
        const w = spawnCli(['worker'], env);
        running.push(w);
        started.push(w);
      }
      await Promise.all(started.map((w) => w.line(/worker: ready/)));
      const r = await runCli(['index', imagesDir], env);
      if (r.code !== 0) throw new Error(`coordinator failed:\n${r.stderr}`);
      await stopAll(started);
      return rateOf(r.stdout);
    };

    const first = await inProcess('first');
    line(
      'in-process reindex (SQLite, 1 process)',
      `${first.rate.toFixed(2)} images/s (${first.embedded} in ${first.seconds.toFixed(1)} s)`,
    );
    const one = await distributed(1);
    line(
      'distributed, 1 worker process',
      `${one.rate.toFixed(2)} images/s (${one.embedded} in ${one.seconds.toFixed(1)} s)`,
    );
    const two = await distributed(2);
    line(
      'distributed, 2 worker processes',
      `${two.rate.toFixed(2)} images/s (${two.embedded} in ${two.seconds.toFixed(1)} s)`,
    );
    const last = await inProcess('last');
    line('in-process reindex again (load check)', `${last.rate.toFixed(2)} images/s`);
    const inRate = (first.rate + last.rate) / 2;
    line('1 worker / in-process (mean of both)', `${((100 * one.rate) / inRate).toFixed(1)} %  (target ≥ 85 %)`);
    line('2 workers / in-process', `${((100 * two.rate) / inRate).toFixed(1)} %  (2 cores: no headroom to scale)`);

    const model = modelKey(weights);
    const small = await timeReplicaLoad(pg, 'workers-1', weights, imagesDir);
    line(`replica start-up, ${small.size} vectors`, `${small.seconds.toFixed(2)} s`);
    const t0 = performance.now();
    await writeSynthetic(pg, 'synthetic', model, SYNTHETIC);
    line(
      `synthetic ${SYNTHETIC} × ${DIM} written into PostgreSQL`,
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const big = await timeReplicaLoad(pg, 'synthetic', weights, imagesDir);
    line(`replica start-up, ${big.size} vectors (flat)`, `${big.seconds.toFixed(2)} s  (target ≤ 30 s)`);
    line('  rate', `${(big.size / big.seconds).toFixed(0)} vectors/s`);

    // Answer latency: a PostgreSQL replica and the single-process catalog, the same photos, alternating.
    const replica = await spawnApp('apps/cli/src/main.ts', ['start'], work, {
      ...base,
      DATABASE_URL: pgServer.url,
      LOOKALIKE_CATALOG_NAME: 'workers-1',
      LOOKALIKE_DATA_DIR: join(work, 'data-replica'),
      LOOKALIKE_PAGE_RATE_PER_MINUTE: '100000',
      HOST: '127.0.0.1',
      PORT: '0',
    });
    running.push(replica);
    const single = await spawnApp('apps/cli/src/main.ts', ['start'], work, {
      ...base,
      LOOKALIKE_DATA_DIR: join(work, 'data-last'),
      LOOKALIKE_PAGE_RATE_PER_MINUTE: '100000',
      HOST: '127.0.0.1',
      PORT: '0',
    });
    running.push(single);
    const photos = await Promise.all(
      files.slice(0, queries).map((f) => readFile(f.absPath).then((b) => new Uint8Array(b))),
    );
    await answerIds(replica.base, photos[0]!);
    await answerIds(single.base, photos[0]!);
    const half = Math.ceil(photos.length / 2);
    const rep = [await p50(replica.base, photos.slice(0, half))];
    const one1 = [await p50(single.base, photos.slice(0, half))];
    one1.push(await p50(single.base, photos.slice(half)));
    rep.push(await p50(replica.base, photos.slice(half)));
    const repP50 = (rep[0]! + rep[1]!) / 2;
    const singleP50 = (one1[0]! + one1[1]!) / 2;
    line(`answer p50 through a replica (${photos.length} photos)`, `${repP50.toFixed(0)} ms`);
    line('answer p50 single-process', `${singleP50.toFixed(0)} ms`);
    line('replica / single-process', `${((100 * repP50) / singleP50).toFixed(1)} %`);
  } finally {
    await stopAll(running);
    await pg.close();
    await Promise.all([pgServer.stop(), redis.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
