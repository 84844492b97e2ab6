/**
 * The feedback recorder over the real SQLite store (feedback.sqlite in a temp data dir), the
 * salt, the configuration (LOOKALIKE_FEEDBACK, LOOKALIKE_FEEDBACK_SALT) and the runtime's
 * openFeedback: what is stored, what is refused, and that no raw user id ever reaches the file.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FEEDBACK_FILE, feedbackPath, openSqliteFeedbackStore } from '@lookalike/catalog';
import {
  createFeedbackRecorder,
  disabledFeedback,
  hashUserId,
  LookalikeError,
  parseConfig,
  silentLogger,
} from '@lookalike/core';
import { FEEDBACK_SALT_FILE, feedbackSalt, openFeedback, openFeedbackStore } from '@lookalike/runtime';
import { recordingLogger } from '../chat/fakes.js';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { databaseBytes } from './helpers.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(TEST_TMP_DIR, 'feedback-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const SALT = 'a-test-salt-of-some-length';

describe('the recorder over SQLite', () => {
  test('GIVEN a recorded answer THEN 👍 and 👎 on its message are stored with its request and results, once per person', async () => {
    const dir = await tempDir();
    const store = openSqliteFeedbackStore(feedbackPath(dir));
    let now = 1_700_000_000_000;
    const recorder = createFeedbackRecorder({ store, salt: SALT, now: () => now });
    assert.equal(recorder.enabled, true);
    await recorder.answered({ surface: 'discord', messageKey: 'm1', requestId: 'r1', resultIds: ['10', '11', '12'] });
    now += 1000;
    assert.equal(
      await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm1', userId: 'discord:42' }),
      true,
    );
    assert.equal(
      await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm1', userId: 'discord:42' }),
      false,
      'the same 👍 again (removed and added back) counts once',
    );
    assert.equal(
      await recorder.record({ kind: 'down', surface: 'discord', messageKey: 'm1', userId: 'discord:43' }),
      true,
    );
    assert.equal(
      await recorder.record({ kind: 'up', surface: 'slack', messageKey: 'm1', userId: 'discord:42' }),
      false,
      'm1 is no Slack answer',
    );
    assert.equal(
      await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'photo', userId: 'discord:42' }),
      false,
      'a reaction on a message that is not an answer is not stored',
    );
    const events = await store.events(0);
    assert.deepEqual(events, [
      {
        kind: 'up',
        surface: 'discord',
        messageKey: 'm1',
        requestId: 'r1',
        resultIds: ['10', '11', '12'],
        itemId: undefined,
        userHash: hashUserId(SALT, 'discord:42'),
        at: 1_700_000_001_000,
      },
      {
        kind: 'down',
        surface: 'discord',
        messageKey: 'm1',
        requestId: 'r1',
        resultIds: ['10', '11', '12'],
        itemId: undefined,
        userHash: hashUserId(SALT, 'discord:43'),
        at: 1_700_000_001_000,
      },
    ]);
    assert.deepEqual(await store.answerCounts(0), { discord: 1 });
    assert.deepEqual(await store.answerCounts(now + 1), {});
    assert.equal((await store.events(now + 1)).length, 0, 'events before `since` are left out');
    await store.close();
  });

  test('GIVEN "more like this" presses THEN each pressed item is stored once per person, with the answer when known', async () => {
    const dir = await tempDir();
    const store = openSqliteFeedbackStore(feedbackPath(dir));
    const recorder = createFeedbackRecorder({ store, salt: SALT });
    await recorder.answered({ surface: 'slack', messageKey: 'C1:1.2', requestId: 'r9', resultIds: ['a', 'b'] });
    const press = { kind: 'more', surface: 'slack', messageKey: 'C1:1.2', itemId: 'b', userId: 'slack:T:U1' } as const;
    assert.equal(await recorder.record(press), true);
    assert.equal(await recorder.record(press), false, 'the same press twice counts once');
    assert.equal(await recorder.record({ ...press, itemId: 'a' }), true, 'another item of the same answer');
    assert.equal(
      await recorder.record({ kind: 'more', surface: 'page', itemId: 'z', userId: 'web:1', requestId: 'r10' }),
      true,
      'a press without a recorded answer still counts for its item',
    );
    const events = await store.events(0);
    assert.deepEqual(
      events.map((e) => [e.surface, e.kind, e.itemId, e.requestId, e.resultIds.join(',')]),
      [
        ['slack', 'more', 'b', 'r9', 'a,b'],
        ['slack', 'more', 'a', 'r9', 'a,b'],
        ['page', 'more', 'z', 'r10', ''],
      ],
    );
    await store.close();
  });

  test('GIVEN malformed input or a broken store THEN nothing is stored, nothing is thrown, and the code is logged', async () => {
    const dir = await tempDir();
    const store = openSqliteFeedbackStore(feedbackPath(dir));
    const log = recordingLogger();
    const recorder = createFeedbackRecorder({ store, salt: SALT, logger: log });
    await recorder.answered({ surface: 'discord', messageKey: '', requestId: 'r', resultIds: [] });
    await recorder.answered({
      surface: 'discord',
      messageKey: 'm',
      requestId: 'r',
      resultIds: ['x'.repeat(600), 'ok'],
    });
    assert.deepEqual((await store.findAnswer('discord', 'm'))?.resultIds, ['ok'], 'an oversized id is dropped');
    assert.equal(await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm', userId: '' }), false);
    assert.equal(
      await recorder.record({ kind: 'down', surface: 'discord', messageKey: 'm'.repeat(513), userId: 'u' }),
      false,
    );
    assert.equal(await recorder.record({ kind: 'more', surface: 'discord', itemId: '', userId: 'u' }), false);
    assert.ok(log.entries.filter((e) => (e.obj as { code?: string }).code === 'BAD_REQUEST').length >= 4);
    assert.equal((await store.events(0)).length, 0);
    await store.close();
    // The store is closed now: every call fails inside, and the recorder only logs.
    await recorder.answered({ surface: 'discord', messageKey: 'm2', requestId: 'r', resultIds: [] });
    assert.equal(await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm', userId: 'u' }), false);
    assert.ok(log.entries.some((e) => e.msg === 'could not record feedback'));
    assert.ok(log.entries.some((e) => e.msg === 'could not record the answer'));
  });

  test('GIVEN votes from known users THEN the database file holds their salted hashes and never their ids', async () => {
    const dir = await tempDir();
    const path = feedbackPath(dir);
    const store = openSqliteFeedbackStore(path);
    const recorder = createFeedbackRecorder({ store, salt: SALT });
    const users = ['discord:912345678901234567', 'slack:T0TEAM:U0SOMEONE'];
    await recorder.answered({ surface: 'discord', messageKey: 'm', requestId: 'r', resultIds: ['1'] });
    for (const userId of users) {
      assert.equal(await recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm', userId }), true);
    }
    const whileOpen = await databaseBytes(path);
    await store.close();
    for (const bytes of [whileOpen, await databaseBytes(path)]) {
      for (const userId of users) {
        assert.equal(bytes.includes(userId), false, `${userId} is not in the file`);
        assert.equal(bytes.includes(userId.split(':').at(-1)!), false, 'nor its platform id alone');
        assert.equal(bytes.includes(hashUserId(SALT, userId)), true, 'its hash is');
      }
      assert.equal(bytes.includes(SALT), false, 'the salt is not in the database');
    }
  });
});

describe('configuration and the runtime wiring', () => {
  test('GIVEN LOOKALIKE_FEEDBACK and LOOKALIKE_FEEDBACK_SALT THEN they parse, default on, and a short salt is refused by name', () => {
    assert.deepEqual(parseConfig({}).feedback, { enabled: true, salt: undefined });
    assert.deepEqual(parseConfig({ LOOKALIKE_FEEDBACK: 'off', LOOKALIKE_FEEDBACK_SALT: SALT }).feedback, {
      enabled: false,
      salt: SALT,
    });
    for (const env of [{ LOOKALIKE_FEEDBACK: 'maybe' }, { LOOKALIKE_FEEDBACK_SALT: 'short' }]) {
      assert.throws(
        () => parseConfig(env),
        (err: unknown) =>
          err instanceof LookalikeError &&
          err.code === 'CONFIG_INVALID' &&
          (err.details.variables as string[]).includes(Object.keys(env)[0]!) &&
          !JSON.stringify(err.details).includes('short'),
      );
    }
  });

  test('GIVEN no LOOKALIKE_FEEDBACK_SALT THEN a random salt is kept in the data dir (mode 600) and reused', async () => {
    const dir = await tempDir();
    const config = parseConfig({ LOOKALIKE_DATA_DIR: join(dir, 'data') });
    const first = feedbackSalt(config);
    assert.match(first, /^[0-9a-f]{64}$/);
    const file = join(config.dataDir, FEEDBACK_SALT_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(feedbackSalt(config), first, 'the same salt on the next start');
    assert.equal((await readFile(file, 'utf8')).trim(), first);
    const configured = parseConfig({ LOOKALIKE_DATA_DIR: join(dir, 'other'), LOOKALIKE_FEEDBACK_SALT: SALT });
    assert.equal(feedbackSalt(configured), SALT);
    assert.equal(
      existsSync(join(configured.dataDir, FEEDBACK_SALT_FILE)),
      false,
      'no file when the salt is configured',
    );
  });

  test('GIVEN LOOKALIKE_FEEDBACK=off THEN openFeedback records nothing and creates no file', async () => {
    const dir = await tempDir();
    const config = parseConfig({ LOOKALIKE_DATA_DIR: dir, LOOKALIKE_FEEDBACK: 'off' });
    const off = await openFeedback(config, silentLogger);
    assert.equal(off.recorder, disabledFeedback);
    assert.equal(off.recorder.enabled, false);
    await off.recorder.answered({ surface: 'discord', messageKey: 'm', requestId: 'r', resultIds: ['1'] });
    assert.equal(await off.recorder.record({ kind: 'up', surface: 'discord', messageKey: 'm', userId: 'u' }), false);
    await off.close();
    assert.equal(existsSync(join(dir, FEEDBACK_FILE)), false);
    assert.equal(existsSync(join(dir, FEEDBACK_SALT_FILE)), false);
    assert.equal(await openFeedbackStore(config, silentLogger, { readonly: true }), undefined, 'nothing to report');
  });

  test('GIVEN LOOKALIKE_FEEDBACK=on THEN openFeedback stores in <dataDir>/feedback.sqlite and the report store reads it', async () => {
    const dir = await tempDir();
    const config = parseConfig({ LOOKALIKE_DATA_DIR: dir });
    const on = await openFeedback(config, silentLogger);
    await on.recorder.answered({ surface: 'slack', messageKey: 'C:1', requestId: 'r', resultIds: ['1'] });
    assert.equal(
      await on.recorder.record({ kind: 'up', surface: 'slack', messageKey: 'C:1', userId: 'slack:T:U' }),
      true,
    );
    const reader = await openFeedbackStore(config, silentLogger, { readonly: true });
    assert.ok(reader);
    assert.equal((await reader.events(0)).length, 1, 'a reader sees the running process’s writes');
    await reader.close();
    await on.close();
    assert.equal(existsSync(join(dir, FEEDBACK_FILE)), true);
  });
});
