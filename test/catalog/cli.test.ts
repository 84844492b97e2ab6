/**
 * The catalog CLI commands (index, similar, eval, demo-catalog), called as functions with a real
 * context, plus `lookalike` runs as real processes: `similar --json`, options anywhere, and
 * --help / -h / an unknown option on every command and sub-command, and --version.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { LookalikeError, parseConfig, silentLogger } from '@lookalike/core';
import sharp from 'sharp';
import { runLookalike } from '../../apps/cli/src/cli.ts';
import { demoCatalogCommand } from '../../apps/cli/src/commands/demo-catalog.ts';
import { evalCommand } from '../../apps/cli/src/commands/eval.ts';
import { indexCommand } from '../../apps/cli/src/commands/index.ts';
import { similarCommand } from '../../apps/cli/src/commands/similar.ts';
import { COMMANDS } from '../../apps/cli/src/commands.ts';
import type { CliContext } from '../../apps/cli/src/context.ts';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { REPO_ROOT, runCli } from '../helpers/process.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-cli-${process.pid}`);
let modelsDir: string;
let cat: TestCatalog;

/** Two streams that collect what is written to them. */
function collected(): { stdout: PassThrough; stderr: PassThrough; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { stdout, stderr, out: () => out, err: () => err };
}

/** `lookalike ...args` in this process (the function the process entry calls), its output collected. */
async function lookalike(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { stdout, stderr, out, err } = collected();
  const code = await runLookalike(args, { stdout, stderr });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out(), stderr: err() };
}

function context(dataDir: string): CliContext & { out: () => string; err: () => string } {
  const { stdout, stderr, out, err } = collected();
  const config = parseConfig({ LOOKALIKE_MODELS_DIR: modelsDir, LOOKALIKE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  return { config, logger: silentLogger, stdout, stderr, out, err };
}

before(async () => {
  modelsDir = await ensureUntrainedModels();
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: 24 });
});
after(() => rm(ROOT, { recursive: true, force: true }));

describe('lookalike CLI: catalog commands', () => {
  const dataDir = () => join(ROOT, 'data');

  it('GIVEN a folder THEN `index` indexes it and prints a summary; a second run embeds nothing', async () => {
    const ctx = context(dataDir());
    assert.equal(await indexCommand.run([cat.imagesDir, '--labels', cat.labelsPath], ctx), 0);
    assert.match(ctx.out(), /added 24, updated 0, removed 0, unchanged 0, failed 0/);
    assert.match(ctx.out(), /weights: .*UNTRAINED/);
    assert.match(ctx.err(), /untrained/i, 'warning on stderr');
    const ctx2 = context(dataDir());
    assert.equal(await indexCommand.run([cat.imagesDir, '--labels', cat.labelsPath], ctx2), 0);
    assert.match(ctx2.out(), /added 0, updated 0, removed 0, unchanged 24, failed 0/);
    assert.match(ctx2.out(), /embedded 0 image/);
  });

  it('GIVEN an indexed catalog THEN `similar --json` prints exactly the documented shape', async () => {
    const ctx = context(dataDir());
    const query = join(cat.imagesDir, cat.items[3]!.file);
    assert.equal(await similarCommand.run([query, '--json'], ctx), 0);
    const out = JSON.parse(ctx.out()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ['query', 'weights', 'results']);
    assert.equal(out.query, query);
    assert.deepEqual(Object.keys(out.weights as object), ['source', 'md5']);
    assert.equal((out.weights as { source: string }).source, 'untrained');
    const results = out.results as Record<string, unknown>[];
    assert.equal(results.length, 6);
    results.forEach((r, i) => {
      assert.deepEqual(Object.keys(r), ['rank', 'id', 'path', 'distance', 'similarity', 'metadata']);
      assert.equal(r.rank, i + 1);
      assert.equal(typeof r.distance, 'number');
      assert.ok(Math.abs((r.similarity as number) - (1 - (r.distance as number) / 2)) < 1e-12);
      assert.ok((r.metadata as Record<string, string>).articleType);
    });
    assert.ok(!results.some((r) => r.id === cat.items[3]!.id), 'the query itself (an exact duplicate) is left out');
  });

  it('GIVEN --include-duplicates, --where and -k THEN they shape the results', async () => {
    const query = join(cat.imagesDir, cat.items[3]!.file);
    const ctx = context(dataDir());
    assert.equal(await similarCommand.run([query, '--json', '--include-duplicates', '-k', '2'], ctx), 0);
    const r1 = JSON.parse(ctx.out()).results as { id: string; distance: number }[];
    assert.equal(r1.length, 2);
    assert.equal(r1[0]?.id, cat.items[3]!.id);
    const ctx2 = context(dataDir());
    assert.equal(await similarCommand.run([query, '--json', '--where', 'articleType=Caps', '-k', '3'], ctx2), 0);
    const r2 = JSON.parse(ctx2.out()).results as { metadata: { articleType: string } }[];
    assert.equal(r2.length, 3);
    assert.ok(r2.every((r) => r.metadata.articleType === 'Caps'));
    const ctx3 = context(dataDir());
    assert.equal(await similarCommand.run([query], ctx3), 0);
    assert.match(ctx3.out(), /#\s+similarity\s+distance\s+id\s+articleType/);
    assert.equal(ctx3.out().trim().split('\n').length, 8, 'title, header and 6 rows');
    assert.equal(await similarCommand.run([query, '--where', 'oops'], context(dataDir())), 2);
  });

  it('GIVEN --collage THEN a JPEG collage of the results is written', async () => {
    const out = join(ROOT, 'collage.jpg');
    const ctx = context(dataDir());
    assert.equal(await similarCommand.run([join(cat.imagesDir, cat.items[1]!.file), '--collage', out], ctx), 0);
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok((meta.width ?? 0) > 600);
    assert.match(ctx.err(), /collage written/);
  });

  it('GIVEN no catalog THEN `similar` fails with CATALOG_NOT_FOUND and a hint', async () => {
    await assert.rejects(
      similarCommand.run([join(cat.imagesDir, cat.items[0]!.file)], context(join(ROOT, 'empty'))),
      (err: unknown) =>
        err instanceof LookalikeError && err.code === 'CATALOG_NOT_FOUND' && /lookalike index/.test(err.message),
    );
  });

  it('GIVEN a labelled folder THEN `eval` prints P@k overall and per articleType with the weights used', async () => {
    const ctx = context(dataDir());
    assert.equal(
      await evalCommand.run(
        ['--catalog', cat.imagesDir, '--labels', cat.labelsPath, '-k', '2', '--eval-data', join(ROOT, 'eval')],
        ctx,
      ),
      0,
    );
    const out = ctx.out();
    assert.match(out, /P@2 = \d\.\d{4}/);
    assert.match(out, /weights: .*md5 [0-9a-f]{32}/);
    assert.match(out, /untrained .*meaningless/i);
    assert.match(out, /queries: 24 /, 'each of the 8 types has 3 > k members');
    for (const t of ['Tshirts', 'Caps', 'Handbags']) assert.match(out, new RegExp(`${t}\\s+members\\s+3\\s+P@2 \\d`));
  });

  it('GIVEN an output folder THEN `demo-catalog` draws images and labels', async () => {
    const ctx = context(dataDir());
    assert.equal(await demoCatalogCommand.run([join(ROOT, 'demo'), '--count', '16', '--seed', '5'], ctx), 0);
    assert.match(ctx.out(), /Drew 16 images/);
  });

  it('GIVEN bad flags before or after the command name THEN the process exits 2 with the usage, no stack trace', async () => {
    const global = await runCli(['--bogus', 'similar', 'x.jpg'], { LOG_LEVEL: 'silent' });
    assert.equal(global.code, 2);
    assert.match(global.stderr, /^lookalike: Unknown option '--bogus'/);
    assert.match(global.stderr, /Usage: lookalike \[--models DIR\]/);
    const local = await runCli(['similar', 'x.jpg', '--bogus'], { LOG_LEVEL: 'silent' });
    assert.equal(local.code, 2);
    assert.match(local.stderr, /^lookalike similar: Unknown option '--bogus'/);
    assert.match(local.stderr, /Usage: lookalike similar IMAGE/);
    for (const out of [global.stderr, local.stderr]) assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
  });

  it('GIVEN --data and --models after the command name THEN they apply, and `COMMAND --help` prints its usage', async () => {
    const query = join(cat.imagesDir, cat.items[5]!.file);
    const after = await runCli(['similar', query, '--json', '--data', dataDir(), `--models=${modelsDir}`, '-k', '3'], {
      LOG_LEVEL: 'silent',
    });
    assert.equal(after.code, 0, after.stderr);
    assert.equal((JSON.parse(after.stdout) as { results: unknown[] }).results.length, 3);
    const help = await runCli(['index', '--help'], { LOG_LEVEL: 'silent' });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: lookalike index \[DIR\]/);
    assert.match(help.stdout, /--models DIR and --data DIR/);
    const missing = await runCli(['index', 'x', '--data'], { LOG_LEVEL: 'silent' });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^lookalike: Option '--data <value>' argument missing/);
  });

  it('GIVEN every command and sub-command THEN --help and -h (before or after it) exit 0 with its usage, and an unknown option exits 2', async () => {
    // Every command line to try, from the command table itself, so a new command is covered too.
    const lines: string[][] = [];
    for (const entry of COMMANDS) {
      const spec = await entry.load();
      lines.push([spec.name]);
      for (const sub of spec.subcommands ?? []) lines.push([spec.name, sub.name]);
    }
    for (const l of ['models fetch', 'models init', 'models info', 'discord register'])
      assert.ok(
        lines.some((line) => line.join(' ') === l),
        l,
      );
    const dirs = ['--data', join(ROOT, 'loop-data'), '--models', modelsDir];
    const runs = lines.flatMap((line) => [
      { line, args: [...line, '--help'], code: 0 },
      { line, args: ['-h', ...line], code: 0 },
      { line, args: [...line, ...dirs, '--no-such-option'], code: 2 },
    ]);
    for (const { line, args, code } of runs) {
      const what = `lookalike ${args.join(' ')}`;
      const run = await lookalike(args);
      assert.equal(run.code, code, `${what}: exit ${run.code}\n${run.stderr}`);
      assert.doesNotMatch(run.stderr, /\n\s+at /, `${what}: no stack trace`);
      if (code === 0) {
        const usage = `Usage: lookalike ${line.join(' ')}`;
        assert.ok(run.stdout.startsWith(usage) && /\s/.test(run.stdout[usage.length] ?? ''), `${what}:\n${run.stdout}`);
        assert.match(run.stdout, /--models DIR and --data DIR/, what);
        assert.equal(run.stderr, '', what);
      } else {
        assert.equal(run.stdout, '', `${what}: nothing on stdout`);
        assert.match(run.stderr, /--no-such-option/, `${what} names the option`);
      }
    }
    assert.ok(!existsSync(join(ROOT, 'loop-data')), 'no command did any work');
    const models = await lookalike(['models', '--help']);
    assert.match(models.stdout, /^Usage: lookalike models fetch\|init\|info\|quantize \[options\]/);
    assert.match(
      models.stdout,
      /Sub-commands:\n {2}lookalike models fetch \[--url URL\]/,
      'the sub-commands are listed',
    );
  });

  it('GIVEN --version, `help COMMAND SUB` and no command THEN the version, that usage, and the command list (exit 2)', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'apps/cli/package.json'), 'utf8')) as {
      version: string;
    };
    const v = await lookalike(['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `lookalike ${version}\n`);
    assert.deepEqual(await lookalike(['similar', 'x.jpg', '--version']), v, 'after a command name too');
    const help = await lookalike(['help', 'models', 'init']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: lookalike models init --untrained/);
    const top = await lookalike(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const entry of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${entry.name}\\b`, 'm'), entry.name);
    assert.match(top.stdout, /--version/);
    const none = await lookalike([]);
    assert.equal(none.code, 2);
    assert.equal(none.stdout, top.stdout);
    const unknown = await lookalike(['help', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^lookalike: unknown command "nope"/);
  });

  it('GIVEN the real process THEN --version, a sub-command’s -h and an unknown `start` option exit 0, 0 and 2', async () => {
    const [v, sub, start] = await Promise.all([
      runCli(['--version'], { LOG_LEVEL: 'silent' }),
      runCli(['models', 'fetch', '-h'], { LOG_LEVEL: 'silent' }),
      runCli(['start', '--no-such-option'], { LOG_LEVEL: 'silent', LOOKALIKE_DATA_DIR: join(ROOT, 'loop-data') }),
    ]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^lookalike \d+\.\d+\.\d+\n$/);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, /^Usage: lookalike models fetch \[--url URL\]/);
    assert.equal(start.code, 2, start.stderr);
    assert.match(start.stderr, /^lookalike start: Unknown option '--no-such-option'/);
  });

  it('GIVEN the real `lookalike` process THEN `similar --json` writes only JSON to stdout', async () => {
    const query = join(cat.imagesDir, cat.items[5]!.file);
    const { code, stdout, stderr } = await runCli(
      ['--models', modelsDir, '--data', dataDir(), 'similar', query, '--json', '-k', '6'],
      { LOG_LEVEL: 'silent' },
    );
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as { query: string; results: unknown[] };
    assert.equal(out.query, query);
    assert.equal(out.results.length, 6);
  });
});
