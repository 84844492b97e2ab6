/**
 * `lookalike feedback` on a seeded store (the real SQLite feedback.sqlite in a temp data dir):
 * the like rate per surface, the most up- and down-voted and pressed results, --since, --top,
 * --json, an empty data dir, and bad flags (exit 2). Also through `lookalike` itself.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { feedbackPath, openSqliteFeedbackStore } from '@lookalike/catalog';
import { createFeedbackRecorder, type FeedbackInput, parseConfig, silentLogger } from '@lookalike/core';
import { runLookalike } from '../../apps/cli/src/cli.ts';
import { feedbackCommand } from '../../apps/cli/src/commands/feedback.ts';
import { parseSince } from '../../apps/cli/src/commands/feedback-report.ts';
import type { CliContext } from '../../apps/cli/src/context.ts';
import { TEST_TMP_DIR } from '../helpers/models.js';

const DAY = 86_400_000;
let root: string;
let dataDir: string;

function context(dir: string, env: Record<string, string> = {}): CliContext & { out: () => string; err: () => string } {
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
  const config = parseConfig({ LOOKALIKE_DATA_DIR: dir, LOG_LEVEL: 'silent', ...env });
  return { config, logger: silentLogger, stdout, stderr, out: () => out, err: () => err };
}

before(async () => {
  root = await mkdtemp(join(TEST_TMP_DIR, 'feedback-cli-'));
  dataDir = join(root, 'data');
  const store = openSqliteFeedbackStore(feedbackPath(dataDir));
  let now = Date.now() - 10 * DAY;
  const recorder = createFeedbackRecorder({ store, salt: 'seeded-salt-0123456789', now: () => now });
  // Ten days ago: one Discord answer with a 👎 (outside a 7-day report).
  await recorder.answered({ surface: 'discord', messageKey: 'old', requestId: 'r0', resultIds: ['shoe-1'] });
  await recorder.record({ kind: 'down', surface: 'discord', messageKey: 'old', userId: 'discord:1' });
  now = Date.now() - DAY;
  // Yesterday: Discord answers d1 [a, b, c] and d2 [a, d]; Slack answer s1 [b, e]; a page answer without votes.
  await recorder.answered({ surface: 'discord', messageKey: 'd1', requestId: 'r1', resultIds: ['a', 'b', 'c'] });
  await recorder.answered({ surface: 'discord', messageKey: 'd2', requestId: 'r2', resultIds: ['a', 'd'] });
  await recorder.answered({ surface: 'slack', messageKey: 'C:1', requestId: 'r3', resultIds: ['b', 'e'] });
  await recorder.answered({ surface: 'page', messageKey: 'p1', requestId: 'r4', resultIds: ['z'] });
  const inputs: FeedbackInput[] = [
    { kind: 'up', surface: 'discord', messageKey: 'd1', userId: 'discord:1' },
    { kind: 'up', surface: 'discord', messageKey: 'd1', userId: 'discord:2' },
    { kind: 'up', surface: 'discord', messageKey: 'd2', userId: 'discord:1' },
    { kind: 'down', surface: 'discord', messageKey: 'd2', userId: 'discord:3' },
    { kind: 'down', surface: 'slack', messageKey: 'C:1', userId: 'slack:T:U1' },
    { kind: 'down', surface: 'slack', messageKey: 'C:1', userId: 'slack:T:U2' },
    { kind: 'up', surface: 'slack', messageKey: 'C:1', userId: 'slack:T:U3' },
    { kind: 'more', surface: 'discord', messageKey: 'd1', itemId: 'c', userId: 'discord:1' },
    { kind: 'more', surface: 'slack', messageKey: 'C:1', itemId: 'c', userId: 'slack:T:U1' },
    { kind: 'more', surface: 'slack', messageKey: 'C:1', itemId: 'e', userId: 'slack:T:U1' },
  ];
  for (const input of inputs) assert.equal(await recorder.record(input), true);
  await store.close();
});
after(() => rm(root, { recursive: true, force: true }));

describe('lookalike feedback', () => {
  test('GIVEN the seeded store and --json THEN the like rate per surface and the ranked results over the last 7 days', async () => {
    const ctx = context(dataDir);
    assert.equal(await feedbackCommand.run(['--json'], ctx), 0, ctx.err());
    const report = JSON.parse(ctx.out());
    assert.ok(Math.abs(Date.parse(report.since) - (Date.now() - 7 * DAY)) < 60_000);
    assert.deepEqual(report.surfaces, [
      { surface: 'discord', answers: 2, up: 3, down: 1, more: 1, likeRate: 0.75 },
      { surface: 'page', answers: 1, up: 0, down: 0, more: 0, likeRate: null },
      { surface: 'slack', answers: 1, up: 1, down: 2, more: 2, likeRate: 1 / 3 },
    ]);
    assert.deepEqual(report.total, { surface: 'all', answers: 4, up: 4, down: 3, more: 3, likeRate: 4 / 7 });
    // A vote counts for every result its answer showed: a (d1 👍👍, d2 👍👎), b (d1 👍👍, s1 👍👎👎) …
    assert.deepEqual(report.mostUpVoted, [
      { itemId: 'a', up: 3, down: 1, more: 0 },
      { itemId: 'b', up: 3, down: 2, more: 0 },
      { itemId: 'c', up: 2, down: 0, more: 2 },
      { itemId: 'd', up: 1, down: 1, more: 0 },
      { itemId: 'e', up: 1, down: 2, more: 1 },
    ]);
    assert.deepEqual(
      report.mostDownVoted.map((r: { itemId: string }) => r.itemId),
      ['e', 'b', 'd', 'a'],
      'most 👎 first; ties: fewer 👍 first',
    );
    assert.deepEqual(report.mostPressed, [
      { itemId: 'c', up: 2, down: 0, more: 2 },
      { itemId: 'e', up: 1, down: 2, more: 1 },
    ]);
    assert.ok(!ctx.out().includes('shoe-1'), 'the 10-day-old vote is outside the window');
  });

  test('GIVEN --since all and --top 1 THEN the old vote counts and each list has one row', async () => {
    const ctx = context(dataDir);
    assert.equal(await feedbackCommand.run(['--since', 'all', '--top', '1', '--json'], ctx), 0, ctx.err());
    const report = JSON.parse(ctx.out());
    assert.equal(report.total.down, 4);
    assert.equal(report.surfaces[0].answers, 3);
    assert.equal(report.mostUpVoted.length, 1);
    assert.equal(report.mostDownVoted.length, 1);
    assert.equal(report.mostDownVoted[0].itemId, 'e');
  });

  test('GIVEN no flags THEN a readable table with like rates and the top results', async () => {
    const ctx = context(dataDir);
    assert.equal(await feedbackCommand.run([], ctx), 0, ctx.err());
    const text = ctx.out();
    assert.match(text, /^Feedback since \S+ \(7d\)/);
    assert.match(text, /^ {2}surface\s+answers\s+up\s+down\s+more\s+like rate$/m);
    assert.match(text, /^ {2}discord\s+2\s+3\s+1\s+1\s+75 %$/m);
    assert.match(text, /^ {2}page\s+1\s+0\s+0\s+0\s+-$/m);
    assert.match(text, /^ {2}slack\s+1\s+1\s+2\s+2\s+33 %$/m);
    assert.match(text, /^ {2}all\s+4\s+4\s+3\s+3\s+57 %$/m);
    assert.match(text, /Most up-voted results\n {2}item\s+up\s+down\s+more\n {2}a\s+3\s+1\s+0\n/);
    assert.match(text, /Most down-voted results\n {2}item\s+up\s+down\s+more\n {2}e\s+1\s+2\s+1\n/);
    assert.match(text, /Most "more like this" presses\n {2}item\s+up\s+down\s+more\n {2}c\s+2\s+0\s+2\n/);
  });

  test('GIVEN a data dir without feedback THEN an empty report, and no file is created', async () => {
    const empty = join(root, 'empty');
    const ctx = context(empty);
    assert.equal(await feedbackCommand.run([], ctx), 0, ctx.err());
    assert.match(ctx.out(), /No answers or feedback recorded in this period\./);
    const json = context(empty);
    assert.equal(await feedbackCommand.run(['--json'], json), 0);
    assert.deepEqual(JSON.parse(json.out()).surfaces, []);
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(empty), false);
  });

  test('GIVEN LOOKALIKE_FEEDBACK=off THEN the stored feedback is still reported, with a note on stderr', async () => {
    const ctx = context(dataDir, { LOOKALIKE_FEEDBACK: 'off' });
    assert.equal(await feedbackCommand.run(['--json'], ctx), 0);
    assert.equal(JSON.parse(ctx.out()).total.up, 4);
    assert.match(ctx.err(), /LOOKALIKE_FEEDBACK=off/);
  });

  test('GIVEN a bad --since or --top THEN exit 2 with the usage and nothing on stdout', async () => {
    for (const args of [['--since', 'yesterday'], ['--since', '7x'], ['--top', '0'], ['--top', 'ten'], ['extra']]) {
      const ctx = context(dataDir);
      assert.equal(await feedbackCommand.run(args, ctx), 2, args.join(' '));
      assert.equal(ctx.out(), '');
      assert.match(ctx.err(), /Usage: lookalike feedback \[--since 7d\]/);
    }
    const now = Date.UTC(2025, 0, 10);
    assert.equal(parseSince('24h', now), now - DAY);
    assert.equal(parseSince('2w', now), now - 14 * DAY);
    assert.equal(parseSince('30m', now), now - 1_800_000);
    assert.equal(parseSince('2025-01-01', now), Date.UTC(2025, 0, 1));
    assert.equal(parseSince('all', now), 0);
  });

  test('GIVEN `lookalike feedback --json --data DIR` THEN the command table runs it', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await runLookalike(['feedback', '--json', '--data', dataDir], { stdout, stderr });
    assert.equal(code, 0);
    assert.equal(JSON.parse(out).total.answers, 4);
  });
});
