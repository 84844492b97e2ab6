/**
 * A reindex killed with SIGKILL midway: the re-run completes, embeds only the unfinished items,
 * and the database passes integrity_check; the stale index is rebuilt from stored vectors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openCatalog } from '@lookalike/catalog';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import Database from 'better-sqlite3';
import { makeTestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-sigkill-${process.pid}`);
const CHILD = fileURLToPath(new URL('./index-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TOTAL = 40;
const FIRST = 8;

let real: ImageEmbedder | undefined;
after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

function committed(dbPath: string): number {
  if (!existsSync(dbPath)) return 0;
  const db = new Database(dbPath, { timeout: 5000 });
  try {
    const row = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'items'").get();
    if (row?.n !== 1) return 0;
    return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM items').get()!.n;
  } finally {
    db.close();
  }
}

it('GIVEN a reindex killed with SIGKILL after a checkpoint THEN a re-run completes, re-embedding only unfinished items', async (t) => {
  const modelsDir = await ensureUntrainedModels();
  const all = await makeTestCatalog(join(ROOT, 'all'), { count: TOTAL });
  const imagesDir = join(ROOT, 'live');
  const dataDir = join(ROOT, 'data');
  const dbPath = join(dataDir, 'catalog.sqlite');
  await mkdir(imagesDir, { recursive: true });
  const copy = (from: number, to: number) =>
    Promise.all(all.items.slice(from, to).map((i) => copyFile(join(all.imagesDir, i.file), join(imagesDir, i.file))));

  // A first, complete run over 8 images leaves a saved index behind.
  await copy(0, FIRST);
  real = await createEmbedder({ modelsDir, batchSize: 2 });
  const emb = countingEmbedder(real);
  let catalog = await openCatalog({ dataDir, imagesDir, labelsPath: all.labelsPath, embedder: emb, batchSize: 2 });
  assert.equal((await catalog.reindex()).added, FIRST);
  await catalog.close();

  // The rest arrive; a child process indexes them and is killed after its first checkpoints.
  await copy(FIRST, TOTAL);
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, modelsDir, dataDir, imagesDir, all.labelsPath],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  const deadline = Date.now() + 5 * 60_000;
  while (committed(dbPath) < FIRST + 2) {
    assert.ok(!exitedEarly, `child exited before its first checkpoint: ${stderr}`);
    assert.ok(Date.now() < deadline, 'child made no checkpoint in 5 minutes');
    await sleep(25);
  }
  child.kill('SIGKILL');
  const { signal } = await exited;
  assert.equal(signal, 'SIGKILL');
  const done = committed(dbPath);
  assert.ok(done >= FIRST + 2 && done < TOTAL, `killed midway (${done} of ${TOTAL} committed)`);
  t.diagnostic(`killed with ${done} of ${TOTAL} items committed`);

  // Re-open: the saved index is behind the database, so it is rebuilt from the stored vectors.
  const db = new Database(dbPath);
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
  emb.reset();
  catalog = await openCatalog({ dataDir, imagesDir, labelsPath: all.labelsPath, embedder: emb, batchSize: 2 });
  assert.equal(catalog.size(), done, 'committed items are searchable after the crash');
  const s = await catalog.reindex();
  assert.equal(emb.embedded, TOTAL - done, 'only unfinished items are embedded');
  assert.equal(s.added, TOTAL - done);
  assert.equal(s.unchanged, done);
  assert.equal(catalog.size(), TOTAL);
  const probe = catalog.vectorOf(all.items[TOTAL - 1]!.id)!;
  assert.equal(catalog.search(probe, { k: 1, excludeDuplicates: false })[0]?.id, all.items[TOTAL - 1]!.id);
  await catalog.close();
  const db2 = new Database(dbPath);
  assert.equal(db2.pragma('integrity_check', { simple: true }), 'ok');
  assert.equal(db2.prepare<[], { n: number }>('SELECT count(*) AS n FROM items').get()!.n, TOTAL);
  db2.close();
});
