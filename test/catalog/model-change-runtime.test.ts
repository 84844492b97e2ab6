/**
 * openRuntime during a model change: when `<modelsDir>/previous/` holds the weights the catalog was
 * built with, it opens that model too and the service answers with it from the stored vectors
 * until the reindex swaps; without it, the re-embedded items answer as they are made. (Both
 * models are the untrained test model under two md5s: this is about the wiring; which vectors
 * answer is proven with two vector spaces in model-change.test.ts.)
 */
import assert from 'node:assert/strict';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCatalog } from '@lookalike/catalog';
import { type Logger, parseConfig, silentLogger, type WeightsInfo } from '@lookalike/core';
import {
  createEmbedder,
  type ImageEmbedder,
  MANIFEST_FILE,
  manifestFiles,
  previousModelsDir,
  readManifest,
  weightsInfo,
} from '@lookalike/embedder';
import { openRuntime } from '@lookalike/runtime';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `model-change-runtime-${process.pid}`);
const COUNT = 12;
const PREVIOUS_MD5 = 'c0ffee00c0ffee00c0ffee00c0ffee00';

let shared: string;
let real: ImageEmbedder;
let cat: TestCatalog;
const logger: Logger = silentLogger;

/** Hard-links the shared test model into `dir`, with its manifest's md5 replaced by `md5` when given. */
async function installModel(dir: string, md5?: string): Promise<WeightsInfo> {
  const m = await readManifest(shared);
  for (const f of manifestFiles(m).map((x) => x.path)) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await link(join(shared, f), join(dir, f));
  }
  const manifest = { ...m, sourceMd5: md5 ?? m.sourceMd5 };
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  return weightsInfo(manifest);
}

/** A models dir (current: the test model) with `previous/` holding it under `previousMd5`, and a catalog built with `builtWith`. */
async function setUp(name: string, previousMd5: string, builtWith: WeightsInfo) {
  const modelsDir = join(ROOT, name, 'models');
  await installModel(modelsDir);
  await installModel(previousModelsDir(modelsDir), previousMd5);
  const dataDir = join(ROOT, name, 'data');
  const c = await openCatalog({
    dataDir,
    imagesDir: cat.imagesDir,
    labelsPath: cat.labelsPath,
    embedder: countingEmbedder(real, builtWith),
  });
  await c.reindex();
  await c.close();
  const config = parseConfig({
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: dataDir,
    LOOKALIKE_CATALOG_DIR: cat.imagesDir,
    LOOKALIKE_LABELS: cat.labelsPath,
  });
  return { config, photo: await readFile(join(cat.imagesDir, cat.items[3]!.file)) };
}

before(async () => {
  shared = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir: shared, batchSize: 4 });
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

describe('openRuntime during a model change', () => {
  it('GIVEN previous/ holds the weights the catalog was built with THEN the service answers with that model until the reindex swaps', async () => {
    const previousWeights = { ...real.weights, md5: PREVIOUS_MD5 };
    const { config, photo } = await setUp('kept', PREVIOUS_MD5, previousWeights);
    const runtime = await openRuntime({ config, logger });
    try {
      assert.equal(runtime.previousEmbedder?.weights.md5, PREVIOUS_MD5, 'the previous model is open');
      assert.equal(runtime.catalog.answeringWeights().md5, PREVIOUS_MD5);
      assert.equal(runtime.catalog.size(), COUNT, 'the stored vectors answer');
      const during = await runtime.service.findSimilar(photo, { userId: 'u' });
      assert.equal(during.weights.md5, PREVIOUS_MD5);
      assert.ok(during.notices.some((n) => n.code === 'MODEL_MIGRATION'));
      await runtime.service.reindex();
      assert.equal(runtime.catalog.migration(), null);
      const swapped = await runtime.service.findSimilar(photo, { userId: 'u' });
      assert.equal(swapped.weights.md5, runtime.embedder.weights.md5);
      assert.ok(!swapped.notices.some((n) => n.code === 'MODEL_MIGRATION'));
    } finally {
      await runtime.close();
    }
  });

  it('GIVEN previous/ holds other weights THEN no previous model is opened and the re-embedded items answer as they are made', async () => {
    const builtWith = { ...real.weights, md5: 'd00dd00dd00dd00dd00dd00dd00dd00d' };
    const { config } = await setUp('other', PREVIOUS_MD5, builtWith);
    const runtime = await openRuntime({ config, logger });
    try {
      assert.equal(runtime.previousEmbedder, undefined);
      assert.equal(runtime.catalog.answeringWeights().md5, runtime.embedder.weights.md5);
      assert.equal(runtime.catalog.size(), 0, 'nothing re-embedded yet');
      assert.equal(runtime.catalog.info().storedWeights?.md5, builtWith.md5, 'the stored vectors are kept');
      await runtime.service.reindex();
      assert.equal(runtime.catalog.size(), COUNT);
    } finally {
      await runtime.close();
    }
  });
});
