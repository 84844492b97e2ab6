/**
 * apps/slack-bot as a process: configuration from the environment, /healthz and the Slack route
 * on the one HTTP server, LOCAL_PAGE=off, an event answered through the fake Slack, and a
 * clean exit on SIGTERM.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { FakeSlack, SlackSigner } from '../fakes/slack.js';
import { makeTestCatalog } from '../helpers/catalog.js';
import { type SpawnedApp, spawnBotWithEmptyCatalog } from '../helpers/process.js';
import { fileShareEvent, SIGNING_SECRET } from './harness.js';

let fake: FakeSlack;
let app: SpawnedApp;
let dir: string;

before(async () => {
  fake = await FakeSlack.start();
  ({ app, dir } = await spawnBotWithEmptyCatalog('apps/slack-bot/src/main.ts', 'slack-main-', {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
  }));
});

after(async () => {
  if (app !== undefined && app.child.exitCode === null) app.child.kill('SIGKILL');
  await fake?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('GIVEN the slack-bot process THEN /healthz answers, the local page is off and the token was verified', async () => {
  const health = await fetch(`${app.base}/healthz`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();
  const page = await fetch(`${app.base}/`);
  assert.equal(page.status, 404);
  await page.arrayBuffer();
  assert.equal(fake.callsTo('auth.test').length, 1);
  assert.ok(!app.logs.join('').includes(fake.botToken), 'the bot token is never logged');
});

test('GIVEN a signed file_share THEN the process answers in the thread through the fake Slack', async () => {
  const signer = new SlackSigner(`${app.base}/slack/events`, SIGNING_SECRET, fake);
  const bad = await signer.postEvent({ type: 'app_mention' }, { secret: 'wrong' });
  assert.equal(bad.status, 401);
  await bad.arrayBuffer();
  const photo = await makeTestCatalog(join(dir, 'photo'), { count: 1 });
  const item = photo.items[0]!;
  const file = fake.addFile({
    name: item.file,
    mimetype: item.file.endsWith('.png') ? 'image/png' : 'image/jpeg',
    bytes: await readFile(join(photo.imagesDir, item.file)),
    user: 'U1',
  });
  const ev = fileShareEvent(fake, { channel: 'C1', user: 'U1', files: [file] });
  const res = await signer.postEvent(ev);
  assert.equal(res.status, 200);
  const reply = await fake.waitFor((calls) =>
    calls.find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ev.ts),
  );
  assert.equal(reply.args.text, USER_MESSAGES.INDEX_EMPTY);
});

test('GIVEN SIGTERM THEN the process stops cleanly with exit code 0', async () => {
  const exited = once(app.child, 'close'); // after stdout/stderr are drained
  app.child.kill('SIGTERM');
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.equal(signal, null);
  assert.equal(code, 0, app.logs.join(''));
  assert.match(app.logs.join(''), /"msg":"bye"/);
});
