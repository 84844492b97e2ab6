/**
 * `lookalike start` (what `npm start` runs) with SLACK_BOT_TOKEN set: Slack runs in the same
 * process and on the same HTTP server as the local page and /healthz, and SIGTERM stops it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FakeSlack, SlackSigner } from '../fakes/slack.js';
import { makeTestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { type SpawnedApp, spawnApp } from '../helpers/process.js';
import { SIGNING_SECRET } from './harness.js';

let fake: FakeSlack;
let app: SpawnedApp;
let dir: string;

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  dir = await mkdtemp(join(TEST_TMP_DIR, 'slack-start-'));
  const catalog = await makeTestCatalog(join(dir, 'catalog'), { count: 4 });
  fake = await FakeSlack.start();
  app = await spawnApp('apps/cli/src/main.ts', ['start'], dir, {
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: join(dir, 'data'),
    LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
    LOOKALIKE_LABELS: catalog.labelsPath,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
  });
});

after(async () => {
  if (app !== undefined && app.child.exitCode === null) app.child.kill('SIGKILL');
  await fake?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('GIVEN SLACK_BOT_TOKEN WHEN lookalike start runs THEN the page, /healthz and /slack/events share one server', async () => {
  const page = await fetch(`${app.base}/`);
  assert.equal(page.status, 200);
  assert.match(String(page.headers.get('content-type')), /text\/html/);
  await page.arrayBuffer();
  const health = await fetch(`${app.base}/healthz`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();
  assert.equal(fake.callsTo('auth.test').length, 1);

  const signer = new SlackSigner(`${app.base}/slack/events`, SIGNING_SECRET, fake);
  const unsigned = await signer.post('{"type":"url_verification","challenge":"x"}', 'application/json', {
    unsigned: true,
  });
  assert.equal(unsigned.status, 401);
  await unsigned.arrayBuffer();
  const signed = await signer.post('{"type":"url_verification","challenge":"c-42"}', 'application/json');
  assert.equal(signed.status, 200);
  assert.deepEqual(await signed.json(), { challenge: 'c-42' });
  assert.match(app.logs.join(''), /Slack: receiving events at POST \/slack\/events/);
});

test('GIVEN SIGTERM THEN lookalike start stops cleanly with exit code 0', async () => {
  const exited = once(app.child, 'exit');
  app.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, app.logs.join(''));
  assert.ok(!app.logs.join('').includes(fake.botToken), 'the bot token is never logged');
});
