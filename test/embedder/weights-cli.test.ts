/**
 * `lookalike models init --untrained` and `lookalike models info`, run as the real CLI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readManifest } from '@lookalike/embedder';
import { TEST_TMP_DIR } from '../helpers/models.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const modelsDir = join(TEST_TMP_DIR, `weights-cli-${process.pid}`);

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        join(REPO_ROOT, 'apps/cli/src/main.ts'),
        '--models',
        modelsDir,
        ...args,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

after(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

describe('lookalike models init / info', () => {
  it('GIVEN no model files WHEN `models info` THEN it fails with MODEL_NOT_FOUND and the set-up hint', async () => {
    const r = await runCli(['models', 'info']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MODEL_NOT_FOUND/);
    assert.match(r.stderr, /lookalike models fetch/);
  });

  it('GIVEN `models init --untrained --seed 5` THEN it writes verified untrained files and warns on stderr', async () => {
    const r = await runCli(['models', 'init', '--untrained', '--seed', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: untrained/);
    assert.match(r.stdout, /source: +untrained/);
    const m = await readManifest(modelsDir, { verify: true });
    assert.equal(m.source, 'untrained');
    assert.equal(m.seed, 5);
  });

  it('GIVEN untrained files WHEN `models info --verify` THEN it prints the summary, the checksum result and the warning', async () => {
    const r = await runCli(['models', 'info', '--verify']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /parameters: 23,587,712/);
    assert.match(r.stdout, /checksums: +all files match/);
    assert.match(r.stderr, /WARNING: untrained/);
  });

  it('GIVEN `models init` without --untrained THEN it is a usage error', async () => {
    const r = await runCli(['models', 'init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--untrained/);
  });
});
