/**
 * `lookalike models quantize` and `lookalike embed --precision int8` from the command line, on
 * the untrained test weights (hard-linked into a models dir of its own).
 */
import assert from 'node:assert/strict';
import { link, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readManifest } from '@lookalike/embedder';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { runCli } from '../helpers/process.ts';

const ROOT = join(TEST_TMP_DIR, `int8-cli-${process.pid}`);

describe('lookalike models quantize / embed --precision', () => {
  let modelsDir: string;
  let cat: TestCatalog;

  before(async () => {
    await rm(ROOT, { recursive: true, force: true });
    modelsDir = join(ROOT, 'models');
    const from = await ensureUntrainedModels();
    for (const e of await readdir(from, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const src = join(e.parentPath, e.name);
      const dst = join(modelsDir, src.slice(from.length));
      await mkdir(join(dst, '..'), { recursive: true });
      await link(src, dst);
    }
    cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: 6, seed: 5 });
  });

  after(() => rm(ROOT, { recursive: true, force: true }));

  it('GIVEN no calibration folder THEN quantize is a usage error naming --calibration', async () => {
    const r = await runCli(['models', 'quantize', '--data', join(ROOT, 'no-data')], {
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_CATALOG_DIR: '',
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--calibration DIR/);
  });

  it('GIVEN --calibration DIR --images 4 THEN resnet50.int8.onnx is written and embed --precision int8 uses it', async () => {
    const q = await runCli(['models', 'quantize', '--calibration', cat.imagesDir, '--images', '4'], {
      LOOKALIKE_MODELS_DIR: modelsDir,
    });
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /int8: +resnet50\.int8\.onnx .*percentile 99\.999 on 4 images/);
    assert.match(q.stderr, /untrained/);
    const m = await readManifest(modelsDir, { verify: true });
    assert.equal(m.quantization?.calibration.images, 4);

    const image = join(cat.imagesDir, (await readdir(cat.imagesDir)).sort()[0] as string);
    const e = await runCli(['embed', '--precision', 'int8', image], { LOOKALIKE_MODELS_DIR: modelsDir });
    assert.equal(e.code, 0, e.stderr);
    const v = JSON.parse(e.stdout.trim()) as number[];
    assert.equal(v.length, 2048);
    const env = await runCli(['embed', image], { LOOKALIKE_MODELS_DIR: modelsDir, LOOKALIKE_PRECISION: 'int8' });
    assert.equal(env.code, 0, env.stderr);
    assert.deepEqual(JSON.parse(env.stdout.trim()), v, 'LOOKALIKE_PRECISION=int8 is the same model');

    const bad = await runCli(['embed', '--precision', 'fp16', image], { LOOKALIKE_MODELS_DIR: modelsDir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown precision "fp16"/);
  });
});
