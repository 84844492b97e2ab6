/**
 * `lookalike worker` refuses to start without what it needs (DATABASE_URL, REDIS_URL,
 * LOOKALIKE_CATALOG_DIR): a CONFIG_INVALID line naming what is missing, the usage, exit 78,
 * before any model or connection is opened. Its --help goes through the CLI's command table.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { parseConfig, silentLogger } from '@lookalike/core';
import { missingWorkerVariables } from '@lookalike/runtime';
import { runLookalike } from '../../apps/cli/src/cli.ts';
import { workerCommand } from '../../apps/cli/src/commands/worker.ts';

function streams() {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  err.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return { out, err, text: () => ({ stdout, stderr }) };
}

async function runWorker(env: Record<string, string>, argv: string[] = []) {
  const s = streams();
  const code = await workerCommand.run(argv, {
    config: parseConfig(env),
    logger: silentLogger,
    stdout: s.out,
    stderr: s.err,
  });
  return { code, ...s.text() };
}

describe('lookalike worker', () => {
  test('GIVEN none of its variables THEN CONFIG_INVALID naming all three, the usage, exit 78', async () => {
    const run = await runWorker({});
    assert.equal(run.code, 78);
    assert.match(run.stderr, /^lookalike worker: CONFIG_INVALID: /);
    assert.match(run.stderr, /not set: DATABASE_URL, REDIS_URL, LOOKALIKE_CATALOG_DIR\n/);
    assert.match(run.stderr, /\nUsage: lookalike worker\n$/);
    assert.equal(run.stdout, '');
  });

  test('GIVEN DATABASE_URL alone THEN the missing REDIS_URL and LOOKALIKE_CATALOG_DIR are named, never the URL', async () => {
    const url = 'postgres://shop:hunter2@db.internal:5432/shop';
    const run = await runWorker({ DATABASE_URL: url });
    assert.equal(run.code, 78);
    assert.match(run.stderr, /not set: REDIS_URL, LOOKALIKE_CATALOG_DIR\n/);
    assert.ok(!run.stderr.includes('hunter2') && !run.stderr.includes('db.internal'), run.stderr);
    assert.deepEqual(
      missingWorkerVariables(
        parseConfig({ DATABASE_URL: url, REDIS_URL: 'redis://127.0.0.1:1', LOOKALIKE_CATALOG_DIR: '/srv/catalog' }),
      ),
      [],
    );
  });

  test('GIVEN an argument THEN a usage error (exit 2)', async () => {
    const run = await runWorker({}, ['extra']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^lookalike worker: .*\nUsage: lookalike worker\n$/s);
  });

  test('GIVEN --help THEN its usage and summary, exit 0', async () => {
    const s = streams();
    const code = await runLookalike(['worker', '--help'], { stdout: s.out, stderr: s.err });
    assert.equal(code, 0);
    const { stdout, stderr } = s.text();
    assert.match(stdout, /^Usage: lookalike worker\n\nembed the images a coordinator queues/);
    assert.match(stdout, /DATABASE_URL, REDIS_URL and LOOKALIKE_CATALOG_DIR/);
    assert.equal(stderr, '');
  });
});
