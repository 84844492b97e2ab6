/**
 * `lookalike models init --untrained` and `lookalike models info`, run as the real CLI.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readManifest } from '@lookalike/embedder';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { runCli } from '../helpers/process.js';

const modelsDir = join(TEST_TMP_DIR, `weights-cli-${process.pid}`);

/** `lookalike --models <modelsDir> ...args`. */
const lookalike = (args: string[]) => runCli(['--models', modelsDir, ...args]);

after(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

describe('lookalike models init / info', () => {
  it('GIVEN no model files WHEN `models info` THEN it fails with MODEL_NOT_FOUND and the set-up hint', async () => {
    const r = await lookalike(['models', 'info']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MODEL_NOT_FOUND/);
    assert.match(r.stderr, /lookalike models fetch/);
  });

  it('GIVEN `models init --untrained --seed 5` THEN it writes verified untrained files and warns on stderr', async () => {
    const r = await lookalike(['models', 'init', '--untrained', '--seed', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: untrained/);
    assert.match(r.stdout, /source: +untrained/);
    const m = await readManifest(modelsDir, { verify: true });
    assert.equal(m.source, 'untrained');
    assert.equal(m.seed, 5);
  });

  it('GIVEN untrained files WHEN `models info --verify` THEN it prints the summary, the checksum result and the warning', async () => {
    const r = await lookalike(['models', 'info', '--verify']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /parameters: 23,587,712/);
    assert.match(r.stdout, /checksums: +all files match/);
    assert.match(r.stderr, /WARNING: untrained/);
  });

  it('GIVEN `models init` without --untrained THEN it is a usage error', async () => {
    const r = await lookalike(['models', 'init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--untrained/);
  });
});
