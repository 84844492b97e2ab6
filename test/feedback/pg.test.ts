/**
 * Feedback in PostgreSQL (migration 2) against a real private server (test/helpers/pg-server.ts):
 * the recorder over createPgFeedbackStore stores and de-duplicates like the SQLite store, two
 * replicas' recorders share one set of answers, and `lookalike feedback` with DATABASE_URL
 * reports from it. No raw user id is stored (checked over every text column of both tables).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createFeedbackRecorder, hashUserId, parseConfig, silentLogger } from '@lookalike/core';
import { createPgFeedbackStore, openPgCatalog, type PgCatalog } from '@lookalike/pg';
import { openFeedback } from '@lookalike/runtime';
import pg from 'pg';
import { feedbackCommand } from '../../apps/cli/src/commands/feedback.ts';
import { type PgServer, startPostgres } from '../helpers/pg-server.js';

const SALT = 'shared-replica-salt-0123';
let server: PgServer;
let url: string;
let catalog: PgCatalog;

before(async () => {
  server = await startPostgres();
  const admin = new pg.Client(server.url);
  await admin.connect();
  await admin.query('CREATE DATABASE feedback');
  await admin.end();
  const u = new URL(server.url);
  u.pathname = '/feedback';
  url = u.toString();
  catalog = openPgCatalog(url);
  assert.deepEqual(await catalog.migrate(), [1, 2]);
});
after(async () => {
  await catalog?.close();
  await server?.stop();
});

describe('PostgreSQL feedback store', () => {
  test('GIVEN two replicas’ recorders THEN a vote reaching the other replica finds the answer; repeats count once', async () => {
    const a = createFeedbackRecorder({ store: createPgFeedbackStore(catalog.pool), salt: SALT });
    const b = createFeedbackRecorder({ store: createPgFeedbackStore(catalog.pool), salt: SALT });
    await a.answered({ surface: 'discord', messageKey: '111', requestId: 'r1', resultIds: ['x', 'y'] });
    assert.equal(await b.record({ kind: 'up', surface: 'discord', messageKey: '111', userId: 'discord:555' }), true);
    assert.equal(await a.record({ kind: 'up', surface: 'discord', messageKey: '111', userId: 'discord:555' }), false);
    assert.equal(await a.record({ kind: 'up', surface: 'discord', messageKey: 'nope', userId: 'discord:555' }), false);
    assert.equal(
      await a.record({ kind: 'more', surface: 'discord', messageKey: '111', itemId: 'y', userId: 'discord:555' }),
      true,
    );
    const store = createPgFeedbackStore(catalog.pool);
    const events = await store.events(0);
    assert.deepEqual(
      events.map((e) => [e.kind, e.requestId, e.resultIds, e.itemId, e.userHash]),
      [
        ['up', 'r1', ['x', 'y'], undefined, hashUserId(SALT, 'discord:555')],
        ['more', 'r1', ['x', 'y'], 'y', hashUserId(SALT, 'discord:555')],
      ],
    );
    assert.ok(Math.abs((events[0]?.at ?? 0) - Date.now()) < 60_000, 'times round-trip in ms');
    assert.deepEqual(await store.answerCounts(0), { discord: 1 });
    assert.deepEqual(await store.events(Date.now() + 60_000), []);
    const text = await catalog.pool.query<{ t: string }>(
      `SELECT concat_ws(' ', surface, message_key, request_id, result_ids::text, item_id, user_hash) AS t FROM feedback_events
       UNION ALL SELECT concat_ws(' ', surface, message_key, request_id, result_ids::text) FROM feedback_answers`,
    );
    for (const row of text.rows) assert.equal(row.t.includes('555'), false, `no raw user id in: ${row.t}`);
  });

  test('GIVEN DATABASE_URL THEN the runtime’s recorder and `lookalike feedback` use PostgreSQL', async () => {
    const config = parseConfig({ DATABASE_URL: url, LOOKALIKE_FEEDBACK_SALT: SALT, LOG_LEVEL: 'silent' });
    const feedback = await openFeedback(config, silentLogger);
    try {
      await feedback.recorder.answered({ surface: 'slack', messageKey: 'C:9.1', requestId: 'r2', resultIds: ['y'] });
      assert.equal(
        await feedback.recorder.record({ kind: 'down', surface: 'slack', messageKey: 'C:9.1', userId: 'slack:T:U7' }),
        true,
      );
    } finally {
      await feedback.close();
    }
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await feedbackCommand.run(['--json'], {
      config,
      logger: silentLogger,
      stdout,
      stderr: new PassThrough(),
    });
    assert.equal(code, 0);
    const report = JSON.parse(out);
    assert.deepEqual(
      report.surfaces.map((s: { surface: string; answers: number; up: number; down: number }) => [
        s.surface,
        s.answers,
        s.up,
        s.down,
      ]),
      [
        ['discord', 1, 1, 0],
        ['slack', 1, 0, 1],
      ],
    );
    assert.deepEqual(report.mostDownVoted, [{ itemId: 'y', up: 1, down: 1, more: 1 }]);
  });
});
