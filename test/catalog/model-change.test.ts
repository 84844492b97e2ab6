/**
 * A model change never blinds the catalog: the stored vectors keep answering (with the previous
 * model) while the catalog is re-embedded into a shadow, which replaces them in one step once
 * complete. Real SQLite, FAISS, ONNX Runtime (untrained weights) and the real service; the new
 * "model" is the real one with its vector components reversed (test/catalog/other-model.ts), so
 * a query finds its own image at distance 0 only when it was embedded with the model whose
 * vectors answer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Catalog, type CatalogOptions, openCatalog } from '@lookalike/catalog';
import {
  type Answer,
  createSimilarityService,
  type Embedder,
  LookalikeError,
  parseConfig,
  type SimilarityService,
  serviceSettingsFrom,
} from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { createFetcher } from '@lookalike/fetch';
import { createCollageRenderer, createImageInspector } from '@lookalike/render';
import Database from 'better-sqlite3';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { steppedEmbedder, until } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { countingEmbedder } from './embedders.ts';
import { OTHER_MODEL_WEIGHTS, otherModel, trackedModel } from './other-model.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-model-change-${process.pid}`);
const CHILD = fileURLToPath(new URL('./migrate-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COUNT = 24;
const BATCH = 4;
/** Images let through before the re-embed is held. */
const HELD_AT = 8;
const EXACT = 1e-6;

let modelsDir: string;
let real: ImageEmbedder;
let cat: TestCatalog;

before(async () => {
  modelsDir = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir, batchSize: BATCH });
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

/** A catalog of COUNT items made with the real weights. */
async function buildWithRealWeights(dataDir: string): Promise<void> {
  const c = await openCatalog({ dataDir, imagesDir: cat.imagesDir, labelsPath: cat.labelsPath, embedder: real });
  assert.equal((await c.reindex()).added, COUNT);
  await c.close();
}

/** The test catalog at `dataDir` opened over `embedder`, a model other than its vectors' (re-embedded in batches of BATCH). */
function openForModelChange(
  dataDir: string,
  embedder: Embedder,
  more: Pick<CatalogOptions, 'answerFromStored'> = {},
): Promise<Catalog> {
  return openCatalog({
    dataDir,
    imagesDir: cat.imagesDir,
    labelsPath: cat.labelsPath,
    embedder,
    batchSize: BATCH,
    allowModelMismatch: true,
    ...more,
  });
}

/** The service as packages/runtime wires it, with the previous model when one is kept. */
function serviceOver(embedder: Embedder, catalog: Catalog, previousEmbedder?: Embedder): SimilarityService {
  const config = parseConfig({ LOOKALIKE_RATE_PER_MINUTE: '1000' });
  return createSimilarityService({
    embedder,
    ...(previousEmbedder === undefined ? {} : { previousEmbedder }),
    catalog,
    inspector: createImageInspector(config.image),
    fetcher: createFetcher({ ...config.fetch, limits: config.image }),
    collage: createCollageRenderer(),
    settings: serviceSettingsFrom(config),
    ownsDependencies: false,
  });
}

function photoOf(id: string): Promise<Buffer> {
  const item = cat.items.find((i) => i.id === id);
  assert.ok(item, `no item ${id}`);
  return readFile(join(cat.imagesDir, item.file));
}

/** Asks with the photo of `id`: the top result is that very item at distance 0 when the models agree. */
async function ask(service: SimilarityService, id: string): Promise<Answer> {
  const answer = await service.findSimilar(await photoOf(id), { userId: 'u1', k: 3, excludeDuplicates: false });
  assert.equal(answer.results[0]?.id, id, `top-1 of ${id}`);
  assert.ok(
    answer.results[0]!.distance < EXACT,
    `distance ${answer.results[0]!.distance}: the query model made the vectors`,
  );
  return answer;
}

/** What `catalog.sqlite` itself holds (read beside the open catalog). */
function mainDatabase(dataDir: string): { items: number; md5: string | undefined; integrity: unknown } {
  const db = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true });
  try {
    return {
      items: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM items').get()!.n,
      md5: db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'weights_md5'").get()?.value,
      integrity: db.pragma('integrity_check', { simple: true }),
    };
  } finally {
    db.close();
  }
}

describe('a model change', () => {
  it('GIVEN the previous model is kept THEN queries are answered from the old vectors with the old model during the re-embed, then by the new model after the swap', async () => {
    const dataDir = join(ROOT, 'with-previous');
    await buildWithRealWeights(dataDir);
    const gate = steppedEmbedder(otherModel(real));
    const previous = trackedModel(real);
    const catalog = await openForModelChange(dataDir, gate, { answerFromStored: true });
    const service = serviceOver(gate, catalog, previous);
    try {
      assert.equal(catalog.answeringWeights().md5, real.weights.md5, 'the stored vectors answer');
      assert.equal(catalog.size(), COUNT);
      const waitingFor = catalog.migration();
      assert.equal(waitingFor?.answering.md5, real.weights.md5);
      assert.equal(waitingFor?.target.md5, OTHER_MODEL_WEIGHTS.md5);
      assert.deepEqual([waitingFor.done, waitingFor.total, waitingFor.running], [0, COUNT, false]);
      const before = await ask(service, '10003');
      assert.equal(before.weights.md5, real.weights.md5, 'embedded with the previous model');
      const waiting = before.notices.find((n) => n.code === 'MODEL_MIGRATION');
      assert.match(
        waiting?.text ?? '',
        /^Answering with the previous model \(.+\) while the catalog is re-embedded with ResNet50 \(file other\.h5.*: 0 of 24 done \(the next reindex continues it\)\.$/,
      );

      const run = service.reindex();
      await gate.firstHeld;
      gate.allow(HELD_AT);
      await until(() => catalog.migration()?.done === HELD_AT, 'the first re-embedded items');

      // Mid-way: every item still answers, from the old vectors, queried with the old model.
      assert.equal(catalog.size(), COUNT, 'nothing left the catalog');
      for (const id of ['10000', '10011', '10023']) {
        const during = await ask(service, id);
        assert.equal(during.weights.md5, real.weights.md5);
        const notice = during.notices.find((n) => n.code === 'MODEL_MIGRATION');
        assert.ok(notice, `a MODEL_MIGRATION notice (got ${during.notices.map((n) => n.code).join(', ')})`);
        assert.match(notice.text, /^Answering with the previous model .*: 8 of 24 done\.$/);
        assert.ok(!during.notices.some((n) => n.code === 'INDEXING'), 'the migration notice replaces the indexing one');
      }
      // The new model's vectors of the same photo are elsewhere: searching the old ones with them is refused.
      const [newVector] = await otherModel(real).embed([await photoOf('10003')]);
      const [oldVector] = await real.embed([await photoOf('10003')]);
      let d = 0;
      for (let i = 0; i < oldVector!.length; i++) d += (oldVector![i]! - newVector![i]!) ** 2;
      assert.ok(d > 0.01, `the two models disagree (squared distance ${d})`);
      assert.throws(
        () => catalog.search(newVector!, { k: 1, weightsMd5: OTHER_MODEL_WEIGHTS.md5 }),
        (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
      );
      assert.deepEqual(
        mainDatabase(dataDir),
        { items: COUNT, md5: real.weights.md5, integrity: 'ok' },
        'catalog.sqlite is untouched mid-way',
      );
      assert.ok(existsSync(join(dataDir, 'catalog.next.sqlite')), 'the shadow is on disk');

      gate.openAll();
      const summary = await run;
      assert.equal(summary.added, COUNT, 'every image re-embedded once');
      assert.equal(catalog.size(), COUNT);

      // Swapped: the new model answers, the previous one is disposed, the shadow is the catalog.
      assert.equal(catalog.migration(), null);
      assert.equal(catalog.answeringWeights().md5, OTHER_MODEL_WEIGHTS.md5);
      assert.equal(catalog.info().storedWeights?.md5, OTHER_MODEL_WEIGHTS.md5);
      assert.equal(catalog.info().modelMismatch, false);
      assert.equal(previous.disposed, true, 'the previous model is disposed after the swap');
      assert.ok(!existsSync(join(dataDir, 'catalog.next.sqlite')));
      const afterSwap = await ask(service, '10003');
      assert.equal(afterSwap.weights.md5, OTHER_MODEL_WEIGHTS.md5, 'embedded with the new model');
      assert.ok(!afterSwap.notices.some((n) => n.code === 'MODEL_MIGRATION'));
      await ask(service, '10017');
    } finally {
      gate.openAll();
      await service.close();
      await catalog.close();
    }
    assert.deepEqual(mainDatabase(dataDir), { items: COUNT, md5: OTHER_MODEL_WEIGHTS.md5, integrity: 'ok' });
    // The next start opens it as an ordinary catalog of the new model, from the saved index.
    const reopened = await openCatalog({ dataDir, embedder: otherModel(real) });
    try {
      assert.equal(reopened.size(), COUNT);
      assert.equal(reopened.info().modelMismatch, false);
      const [v] = await otherModel(real).embed([await photoOf('10020')]);
      assert.equal(reopened.search(v!, { k: 1, excludeDuplicates: false })[0]?.id, '10020');
    } finally {
      await reopened.close();
    }
  });

  it('GIVEN no previous model THEN the re-embedded items answer as they are made, catalog.sqlite is untouched until the swap, and the guard counts the old catalog', async () => {
    const dataDir = join(ROOT, 'without-previous');
    await buildWithRealWeights(dataDir);
    const emptyDir = join(ROOT, 'empty');
    await mkdir(emptyDir, { recursive: true });

    // An empty (unmounted) folder: refused against the 24 stored items, not the empty shadow.
    const unmounted = await openCatalog({
      dataDir,
      imagesDir: emptyDir,
      embedder: otherModel(real),
      allowModelMismatch: true,
    });
    try {
      await assert.rejects(unmounted.reindex(), (err: unknown) => {
        assert.ok(err instanceof LookalikeError && err.code === 'REINDEX_MASS_REMOVAL', String(err));
        assert.equal(err.details.wouldRemove, COUNT);
        assert.equal(err.details.total, COUNT);
        return true;
      });
      // A confirmation for fewer removals is checked against the old catalog too: refused again.
      await assert.rejects(
        unmounted.reindex(undefined, { allowRemovals: true, maxRemovals: COUNT - 1 }),
        (err: unknown) => {
          assert.ok(err instanceof LookalikeError && err.code === 'REINDEX_MASS_REMOVAL', String(err));
          assert.deepEqual(
            [err.details.wouldRemove, err.details.total, err.details.confirmed],
            [COUNT, COUNT, COUNT - 1],
          );
          return true;
        },
      );
    } finally {
      await unmounted.close();
    }
    assert.equal(mainDatabase(dataDir).items, COUNT);

    const gate = steppedEmbedder(otherModel(real));
    const catalog = await openForModelChange(dataDir, gate);
    const service = serviceOver(gate, catalog);
    try {
      assert.equal(catalog.answeringWeights().md5, OTHER_MODEL_WEIGHTS.md5, 'the new vectors answer');
      assert.equal(catalog.size(), 0, 'nothing re-embedded yet');
      const run = service.reindex();
      await gate.firstHeld;
      gate.allow(HELD_AT);
      await until(() => catalog.size() === HELD_AT, 'the first re-embedded items');
      const first = catalog.items()[0]!.id;
      const during = await ask(service, first);
      assert.equal(during.weights.md5, OTHER_MODEL_WEIGHTS.md5);
      const notice = during.notices.find((n) => n.code === 'MODEL_MIGRATION');
      assert.match(
        notice?.text ?? '',
        /^Answering with the new model \(.+\) from the items re-embedded so far: 8 of 24 done; /,
      );
      assert.deepEqual(mainDatabase(dataDir), { items: COUNT, md5: real.weights.md5, integrity: 'ok' });
      gate.openAll();
      await run;
      assert.equal(catalog.size(), COUNT);
      assert.equal(catalog.migration(), null);
      await ask(service, '10021');
    } finally {
      gate.openAll();
      await service.close();
      await catalog.close();
    }
    assert.deepEqual(mainDatabase(dataDir), { items: COUNT, md5: OTHER_MODEL_WEIGHTS.md5, integrity: 'ok' });
  });

  it('GIVEN a re-embed stopped mid-way THEN the shadow is continued for the same model, discarded for another, and dropped when the old model comes back', async () => {
    const dataDir = join(ROOT, 'stopped');
    await buildWithRealWeights(dataDir);
    const open = (embedder: Embedder) =>
      openCatalog({ dataDir, imagesDir: cat.imagesDir, embedder, batchSize: BATCH, allowModelMismatch: true });
    const gate = steppedEmbedder(otherModel(real));
    const stopped = await open(gate);
    const run = stopped.reindex();
    await gate.firstHeld;
    gate.allow(HELD_AT);
    await until(() => stopped.migration()?.done === HELD_AT, 'the first re-embedded items');
    const closing = stopped.close();
    gate.openAll();
    await closing;
    await assert.rejects(run, /closed during reindex/);
    // The calls in flight when it stopped were committed too.
    const shadow = new Database(join(dataDir, 'catalog.next.sqlite'), { readonly: true });
    const kept = shadow.prepare<[], { n: number }>('SELECT count(*) AS n FROM items').get()!.n;
    shadow.close();
    assert.ok(kept >= HELD_AT && kept < COUNT, `stopped mid-way (${kept} of ${COUNT})`);

    const same = await open(otherModel(real));
    assert.equal(same.migration()?.done, kept, 'continued for the same model');
    await same.close();
    const third = await open(otherModel(real, { ...OTHER_MODEL_WEIGHTS, md5: '0123456789abcdef0123456789abcdef' }));
    assert.equal(third.migration()?.done, 0, 'a shadow made for other weights is discarded');
    await third.close();
    const back = await open(real);
    assert.equal(back.migration(), null);
    assert.equal(back.size(), COUNT);
    assert.ok(!existsSync(join(dataDir, 'catalog.next.sqlite')), 'the old model is loaded again: no shadow');
    await back.close();
  });

  it('GIVEN the re-embed is killed (SIGKILL) mid-way THEN catalog.sqlite is intact and still answers, and the next run continues the shadow', async (t) => {
    const dataDir = join(ROOT, 'killed');
    await buildWithRealWeights(dataDir);
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        CHILD,
        modelsDir,
        dataDir,
        cat.imagesDir,
        cat.labelsPath,
        String(HELD_AT),
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    await until(() => gone || stdout.includes('held'), 'the child to re-embed its first items', 5 * 60_000);
    assert.ok(!gone, `the child exited early: ${stderr}`);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    t.diagnostic(stdout.trim());

    assert.deepEqual(
      mainDatabase(dataDir),
      { items: COUNT, md5: real.weights.md5, integrity: 'ok' },
      'catalog.sqlite is intact',
    );
    const shadow = new Database(join(dataDir, 'catalog.next.sqlite'), { readonly: true });
    const done = shadow.prepare<[], { n: number }>('SELECT count(*) AS n FROM items').get()!.n;
    shadow.close();
    assert.equal(done, HELD_AT, 'the committed re-embedded items survived');

    // The next start (previous model kept): the old vectors answer, the shadow continues.
    const counting = countingEmbedder(otherModel(real));
    const previous = trackedModel(real);
    const catalog = await openForModelChange(dataDir, counting, { answerFromStored: true });
    const service = serviceOver(counting, catalog, previous);
    try {
      assert.equal(catalog.migration()?.done, HELD_AT);
      assert.equal((await ask(service, '10005')).weights.md5, real.weights.md5);
      const summary = await service.reindex();
      assert.equal(counting.embedded, COUNT - HELD_AT, 'only the images not re-embedded yet');
      assert.equal(summary.unchanged, HELD_AT);
      assert.equal(catalog.migration(), null);
      assert.equal((await ask(service, '10005')).weights.md5, OTHER_MODEL_WEIGHTS.md5);
    } finally {
      await service.close();
      await catalog.close();
    }
  });
});
