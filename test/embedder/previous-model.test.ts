/**
 * `<modelsDir>/previous/`: replacing a model keeps the replaced one (whole, checksums intact), a
 * failed replacement changes nothing, and `lookalike models init --force` goes through it.
 */
import assert from 'node:assert/strict';
import { link, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  initUntrainedModels,
  MANIFEST_FILE,
  manifestFiles,
  previousModelsDir,
  readManifest,
  readPreviousManifest,
  replaceKeepingPrevious,
} from '@lookalike/embedder';
import { ensureUntrainedModels, TEST_TMP_DIR, UNTRAINED_TEST_SEED } from '../helpers/models.ts';
import { runCli } from '../helpers/process.ts';

const ROOT = join(TEST_TMP_DIR, `previous-model-${process.pid}`);
let shared: string;

/** A models dir of its own holding the shared untrained test model (hard links: no 190 MB copy). */
async function modelsDirWithTestModel(name: string): Promise<string> {
  const dir = join(ROOT, name);
  const m = await readManifest(shared);
  for (const f of [...manifestFiles(m).map((x) => x.path), MANIFEST_FILE]) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await link(join(shared, f), join(dir, f));
  }
  return dir;
}

before(async () => {
  shared = await ensureUntrainedModels();
});

after(async () => {
  await rm(ROOT, { recursive: true, force: true });
});

describe('the previous model', () => {
  it('GIVEN a model is replaced by other weights THEN the replaced one is kept whole in previous/, and a failed replacement changes nothing', async () => {
    const dir = await modelsDirWithTestModel('replace');
    assert.equal(await readPreviousManifest(dir), undefined, 'none yet');
    const result = await replaceKeepingPrevious(dir, () => initUntrainedModels({ modelsDir: dir, seed: 43 }));
    assert.equal(result.manifest.seed, 43);
    assert.equal((await readManifest(dir, { verify: true })).seed, 43);
    const previous = await readManifest(previousModelsDir(dir), { verify: true });
    assert.equal(previous.seed, UNTRAINED_TEST_SEED, 'the replaced model, every checksum intact');
    assert.equal((await readPreviousManifest(dir))?.sourceMd5, previous.sourceMd5);
    assert.notEqual(previous.sourceMd5, result.manifest.sourceMd5);
    assert.equal(
      (await readManifest(shared, { verify: true })).seed,
      UNTRAINED_TEST_SEED,
      'the linked source is untouched',
    );

    await assert.rejects(
      replaceKeepingPrevious(dir, async () => {
        throw new Error('conversion failed');
      }),
      /conversion failed/,
    );
    assert.equal((await readManifest(dir, { verify: true })).seed, 43, 'the current model stays');
    assert.equal((await readPreviousManifest(dir))?.seed, UNTRAINED_TEST_SEED, 'previous/ stays');
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith('.')),
      [],
      'no staging left behind',
    );
  });

  it('GIVEN `lookalike models init --untrained --force` over a model THEN the replaced one is in previous/', async () => {
    const dir = await modelsDirWithTestModel('cli');
    const r = await runCli(['--models', dir, 'models', 'init', '--untrained', '--seed', '44', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await readManifest(dir)).seed, 44);
    assert.equal((await readManifest(previousModelsDir(dir), { verify: true })).seed, UNTRAINED_TEST_SEED);
  });
});
