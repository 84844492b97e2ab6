/**
 * The mass-removal guard, end to end: a reindex that would remove more than half of the catalog
 * (an empty folder, a missing folder) changes nothing and refuses with REINDEX_MASS_REMOVAL and
 * the count; `allowRemovals` goes ahead, and with `maxRemovals` only while no more than that many
 * would be removed (refused again with the new count otherwise). Real SQLite, FAISS and ONNX Runtime (untrained weights).
 * Then `lookalike index` as a real process: exit 1 with the sentence and the --allow-removals hint,
 * every item still stored, and `--allow-removals` removes them; and `lookalike start` with its
 * catalog folder gone: the background index refusal is a warning, and the page keeps answering.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Catalog, openCatalog } from '@lookalike/catalog';
import { LookalikeError } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import Database from 'better-sqlite3';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { until } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { REPO_ROOT, runCli, spawnApp } from '../helpers/process.ts';
import { type CountingEmbedder, countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-mass-removal-${process.pid}`);
const COUNT = 12;

let modelsDir: string;
let real: ImageEmbedder;
let emb: CountingEmbedder;
let cat: TestCatalog;
/** Where the images wait while the catalog folder is emptied or missing. */
const aside = join(ROOT, 'aside');

async function moveAll(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await readdir(from)) await rename(join(from, f), join(to, f));
}

/** Items stored in a catalog database, read directly (the catalog is closed). */
function storedItems(dataDir: string): number {
  const db = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Resolves with the REINDEX_MASS_REMOVAL error `run` rejects with (fails the test otherwise). */
async function refusal(run: Promise<unknown>): Promise<LookalikeError> {
  try {
    await run;
  } catch (err) {
    assert.ok(err instanceof LookalikeError, `a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, 'REINDEX_MASS_REMOVAL', err.message);
    return err;
  }
  assert.fail('the reindex went ahead');
}

before(async () => {
  modelsDir = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir, batchSize: 4 });
  emb = countingEmbedder(real);
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

describe('the mass-removal guard (catalog)', () => {
  const dataDir = join(ROOT, 'data');
  let catalog: Catalog;
  const open = () =>
    openCatalog({ dataDir, imagesDir: cat.imagesDir, labelsPath: cat.labelsPath, embedder: emb, batchSize: 4 });

  before(async () => {
    catalog = await open();
    const s = await catalog.reindex();
    assert.equal(s.added, COUNT);
  });
  after(async () => {
    await catalog?.close();
  });

  it('GIVEN an empty catalog folder THEN the reindex refuses with the count and every item stays searchable', async () => {
    await moveAll(cat.imagesDir, aside);
    emb.reset();
    const err = await refusal(catalog.reindex());
    assert.equal(err.details.wouldRemove, COUNT);
    assert.equal(err.details.total, COUNT);
    assert.equal(err.details.folderMissing, false);
    assert.match(err.userMessage, new RegExp(`remove ${COUNT} of the ${COUNT} items`));
    assert.equal(catalog.size(), COUNT, 'nothing left the live index');
    assert.equal(catalog.items().length, COUNT, 'nothing left the store');
    const v = catalog.vectorOf(cat.items[0]!.id);
    assert.ok(v, 'the stored vector is still there');
    assert.equal(catalog.search(v, { k: 3 }).length, 3);
    assert.equal(emb.calls, 0);
    // The database itself is untouched: reopened, it still has every item.
    await catalog.close();
    assert.equal(storedItems(dataDir), COUNT);
    catalog = await open();
    assert.equal(catalog.size(), COUNT);
  });

  it('GIVEN the files come back THEN a reindex embeds nothing (no item was dropped)', async () => {
    await moveAll(aside, cat.imagesDir);
    emb.reset();
    const s = await catalog.reindex();
    assert.deepEqual([s.added, s.removed, s.unchanged], [0, 0, COUNT]);
    assert.equal(emb.embedded, 0);
  });

  it('GIVEN a missing catalog folder THEN the reindex refuses too, saying the folder is missing', async () => {
    await rename(cat.imagesDir, join(ROOT, 'moved-images'));
    try {
      const err = await refusal(catalog.reindex());
      assert.equal(err.details.wouldRemove, COUNT);
      assert.equal(err.details.total, COUNT);
      assert.equal(err.details.folderMissing, true);
      assert.match(err.userMessage, /missing/);
      assert.equal(catalog.size(), COUNT);
    } finally {
      await rename(join(ROOT, 'moved-images'), cat.imagesDir);
    }
  });

  it('GIVEN fewer than half of the files gone THEN the reindex removes them without being asked', async () => {
    const files = (await readdir(cat.imagesDir)).sort();
    const gone = files.slice(0, 3);
    await mkdir(aside, { recursive: true });
    for (const f of gone) await rename(join(cat.imagesDir, f), join(aside, f));
    const s = await catalog.reindex();
    assert.equal(s.removed, gone.length);
    assert.equal(catalog.size(), COUNT - gone.length);
    await moveAll(aside, cat.imagesDir);
    const back = await catalog.reindex();
    assert.equal(back.added, gone.length);
    assert.equal(catalog.size(), COUNT);
  });

  it('GIVEN a confirmation for N removals and more files gone since THEN the reindex refuses again with the new count and removes nothing', async () => {
    const files = (await readdir(cat.imagesDir)).sort();
    await mkdir(aside, { recursive: true });
    try {
      for (const f of files.slice(0, 7)) await rename(join(cat.imagesDir, f), join(aside, f));
      const first = await refusal(catalog.reindex());
      assert.equal(first.details.wouldRemove, 7);
      // One more file vanishes between the refusal and the admin's confirmation of 7.
      await rename(join(cat.imagesDir, files[7]!), join(aside, files[7]!));
      emb.reset();
      const again = await refusal(catalog.reindex(undefined, { allowRemovals: true, maxRemovals: 7 }));
      assert.equal(again.details.wouldRemove, 8);
      assert.equal(again.details.total, COUNT);
      assert.equal(again.details.confirmed, 7);
      assert.match(
        again.userMessage,
        new RegExp(`remove 8 of the ${COUNT} items.*since the removal of 7 items was confirmed`),
      );
      assert.equal(catalog.size(), COUNT, 'nothing left the live index');
      assert.equal(catalog.items().length, COUNT, 'nothing left the store');
      assert.equal(emb.calls, 0);
      // The folder missing altogether (the other path of the guard) is refused the same way.
      await rename(cat.imagesDir, join(ROOT, 'moved-images'));
      try {
        const missing = await refusal(catalog.reindex(undefined, { allowRemovals: true, maxRemovals: 8 }));
        assert.deepEqual(
          [missing.details.wouldRemove, missing.details.folderMissing, missing.details.confirmed],
          [COUNT, true, 8],
        );
        assert.equal(catalog.size(), COUNT);
      } finally {
        await rename(join(ROOT, 'moved-images'), cat.imagesDir);
      }
      assert.equal(storedItems(dataDir), COUNT, 'the database still has every item');
    } finally {
      await moveAll(aside, cat.imagesDir);
    }
  });

  it('GIVEN a maxRemovals that is not a non-negative integer THEN the reindex is refused as BAD_REQUEST', async () => {
    for (const maxRemovals of [-1, 1.5, Number.NaN]) {
      await assert.rejects(catalog.reindex(undefined, { allowRemovals: true, maxRemovals }), { code: 'BAD_REQUEST' });
    }
    assert.equal(catalog.size(), COUNT);
  });

  it('GIVEN allowRemovals with maxRemovals equal to the count THEN the reindex goes ahead and removes those items', async () => {
    const files = (await readdir(cat.imagesDir)).sort();
    const gone = files.slice(0, 8);
    await mkdir(aside, { recursive: true });
    try {
      for (const f of gone) await rename(join(cat.imagesDir, f), join(aside, f));
      const err = await refusal(catalog.reindex());
      const s = await catalog.reindex(undefined, {
        allowRemovals: true,
        maxRemovals: err.details.wouldRemove as number,
      });
      assert.equal(s.removed, gone.length);
      assert.equal(catalog.size(), COUNT - gone.length);
    } finally {
      await moveAll(aside, cat.imagesDir);
    }
    const back = await catalog.reindex();
    assert.equal(back.added, gone.length);
    assert.equal(catalog.size(), COUNT);
  });

  it('GIVEN an empty folder and allowRemovals THEN the reindex goes ahead and removes every item', async () => {
    await moveAll(cat.imagesDir, aside);
    try {
      const s = await catalog.reindex(undefined, { allowRemovals: true });
      assert.equal(s.removed, COUNT);
      assert.equal(catalog.size(), 0);
    } finally {
      await moveAll(aside, cat.imagesDir);
    }
    const s = await catalog.reindex();
    assert.equal(s.added, COUNT);
  });

  it('GIVEN a missing folder and allowRemovals THEN the reindex removes every item', async () => {
    await rename(cat.imagesDir, join(ROOT, 'moved-images'));
    try {
      const s = await catalog.reindex(undefined, { allowRemovals: true });
      assert.equal(s.removed, COUNT);
      assert.equal(catalog.size(), 0);
    } finally {
      await rename(join(ROOT, 'moved-images'), cat.imagesDir);
    }
  });
});

describe('lookalike index --allow-removals (process)', () => {
  const dataDir = join(ROOT, 'cli-data');
  const env = () => ({ LOOKALIKE_MODELS_DIR: modelsDir, LOOKALIKE_DATA_DIR: dataDir });

  it('GIVEN an emptied folder THEN `index` exits 1 with the count and the hint, and `--allow-removals` removes the items', async () => {
    const first = await runCli(['index', cat.imagesDir, '--labels', cat.labelsPath], env());
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`added ${COUNT},`));

    await moveAll(cat.imagesDir, aside);
    try {
      const refused = await runCli(['index', cat.imagesDir], env());
      assert.equal(refused.code, 1, `exit 1:\n${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`would remove ${COUNT} of the ${COUNT} items`));
      assert.match(refused.stderr, /re-run with --allow-removals/);
      assert.equal(refused.stdout, '', 'no summary: nothing was indexed');
      assert.equal(storedItems(dataDir), COUNT, 'every item is still stored');

      const allowed = await runCli(['index', cat.imagesDir, '--allow-removals'], env());
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(allowed.stdout, new RegExp(`removed ${COUNT},`));
      assert.equal(storedItems(dataDir), 0);
    } finally {
      await moveAll(aside, cat.imagesDir);
    }
  });
});

describe('lookalike start with its catalog folder gone (process)', () => {
  const dataDir = join(ROOT, 'start-data');
  const away = join(ROOT, 'start-away');

  it('GIVEN a stored catalog and a missing folder THEN start warns with the counts and keeps answering from the stored items', async () => {
    const env = { LOOKALIKE_MODELS_DIR: modelsDir, LOOKALIKE_DATA_DIR: dataDir };
    const indexed = await runCli(['index', cat.imagesDir, '--labels', cat.labelsPath], env);
    assert.equal(indexed.code, 0, indexed.stderr);
    await rename(cat.imagesDir, away); // an unmounted share
    try {
      const app = await spawnApp('apps/cli/src/main.ts', ['start'], REPO_ROOT, {
        ...env,
        LOOKALIKE_CATALOG_DIR: cat.imagesDir,
        LOOKALIKE_LABELS: cat.labelsPath,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
      });
      const exited = once(app.child, 'exit');
      try {
        await until(() => app.logs.some((l) => l.startsWith('Indexing refused')), 'the refusal on stderr', 120_000);
        const warning = app.logs
          .filter((l) => l.startsWith('{'))
          .map(
            (l) =>
              JSON.parse(l) as { level: number; msg?: string; code?: string; wouldRemove?: number; total?: number },
          )
          .find((l) => l.msg?.startsWith('start-up index refused'));
        assert.ok(warning, `a warning log line:\n${app.logs.join('')}`);
        assert.equal(warning.level, 40, 'logged at warn');
        assert.deepEqual([warning.code, warning.wouldRemove, warning.total], ['REINDEX_MASS_REMOVAL', COUNT, COUNT]);
        const shown = app.logs.find((l) => l.startsWith('Indexing refused')) ?? '';
        assert.match(shown, new RegExp(`would remove ${COUNT} of the ${COUNT} items`));

        const form = new FormData();
        const item = cat.items[1]!;
        form.append('image', new Blob([new Uint8Array(await readFile(join(away, item.file)))]), item.file);
        const res = await fetch(`${app.base}/api/similar`, { method: 'POST', body: form });
        const body = (await res.json()) as { results?: { id: string }[]; error?: unknown };
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.equal(body.results?.length, 6, 'answered from the stored catalog');
        const health = (await (await fetch(`${app.base}/healthz`)).json()) as { catalogSize: number };
        assert.equal(health.catalogSize, COUNT);
      } finally {
        app.child.kill('SIGTERM');
        await exited;
      }
      assert.equal(storedItems(dataDir), COUNT, 'every item is still stored after the process');
    } finally {
      await rename(away, cat.imagesDir);
    }
  });
});
