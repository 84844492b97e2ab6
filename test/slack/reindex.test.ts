/**
 * `/reindex` on Slack, end to end: admin check (SLACK_ADMIN_USER_IDS, users.info), a progress
 * message updated with chat.update (throttled), the summary,
 * and a second /reindex while one runs.
 */
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { makeTestCatalog } from '../helpers/catalog.js';
import { type SlackHarness, startSlackHarness } from './harness.js';

const CHANNEL = 'C0ADMIN';
const INTERVAL_MS = 400;
const NEW_IMAGES = 40;

let h: SlackHarness;

before(async () => {
  h = await startSlackHarness({
    fake: { users: { UOWNER: { is_owner: true }, UPLEB: {} } },
    bot: { adminUserIds: ['UADMIN'], progressIntervalMs: INTERVAL_MS },
  });
});

after(async () => {
  await h?.close();
});

test('GIVEN a user who is neither listed nor a workspace admin THEN /reindex is refused ephemerally', async () => {
  const from = h.fake.calls.length;
  const res = await h.signer.postCommand(h.signer.commandBody('/reindex', { user: 'UPLEB', channel: CHANNEL }));
  assert.equal(res.status, 200);
  const reply = await h.fake.waitFor((calls) => calls.slice(from).find((c) => c.method === 'response_url'));
  assert.equal(reply.args.response_type, 'ephemeral');
  assert.equal(reply.args.text, USER_MESSAGES.FORBIDDEN);
  const calls = h.fake.calls.slice(from).map((c) => c.method);
  assert.deepEqual(calls, ['users.info', 'response_url']);
  assert.equal(h.stack.service.status().reindexing, false);
});

test('GIVEN an admin THEN /reindex posts progress updates (throttled) and ends with the summary; a second /reindex shows the running one', async () => {
  // New images make the reindex long enough to report progress several times.
  const sizeBefore = h.stack.service.status().catalogSize;
  await makeTestCatalog(dirname(h.stack.imagesDir), { count: h.stack.items.length + NEW_IMAGES, clean: false });

  const from = h.fake.calls.length;
  const res = await h.signer.postCommand(h.signer.commandBody('/reindex', { user: 'UADMIN', channel: CHANNEL }));
  assert.equal(res.status, 200);
  const posted = await h.fake.waitFor((calls) =>
    calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.args.channel === CHANNEL),
  );
  assert.match(String(posted.args.text), /Reindexing the catalog/);
  const ts = String((posted.response as { ts?: string }).ts);

  // A workspace owner (users.info) runs /reindex while the first one runs.
  await h.fake.waitFor(() => h.stack.service.status().reindexing || undefined);
  const second = h.fake.calls.length;
  await h.signer.postCommand(h.signer.commandBody('/reindex', { user: 'UOWNER', channel: CHANNEL }));
  const running = await h.fake.waitFor((calls) => calls.slice(second).find((c) => c.method === 'response_url'));
  assert.equal(running.args.response_type, 'ephemeral');
  assert.match(String(running.args.text), new RegExp(USER_MESSAGES.REINDEX_IN_PROGRESS));
  assert.match(String(running.args.text), /\[[█░]+\] \d+%/);

  const final = await h.fake.waitFor(
    (calls) =>
      calls
        .slice(from)
        .find((c) => c.method === 'chat.update' && c.args.ts === ts && /Reindex done/.test(String(c.args.text))),
    120_000,
  );
  assert.match(String(final.args.text), new RegExp(`${NEW_IMAGES} added`));
  assert.equal(h.stack.service.status().catalogSize, sizeBefore + NEW_IMAGES);

  const updates = h.fake.calls.slice(from).filter((c) => c.method === 'chat.update' && c.args.ts === ts);
  const progress = updates.filter((c) => c !== final);
  assert.ok(progress.length >= 1, 'at least one progress update before the summary');
  for (const u of progress) assert.match(String(u.args.text), /\[[█░]+\] \d+%/);
  assert.equal(updates.at(-1), final, 'the summary is the last update');
  // How often updates go out is the throttle's job; test/slack/listeners.test.ts and
  // test/chat/throttle.test.ts check it on a manual clock, without timing anything here.
});
