/**
 * /reindex refused for mass removal, on Slack end to end (the real Bolt App behind the HTTP
 * server, signed requests, the loopback fake Web API, the real service and catalog): the progress
 * message becomes the catalog's sentence with a danger "Remove N items and reindex" and a "Cancel"
 * button (block_actions); a press by anyone but the asking admin is refused privately and runs
 * nothing; the asker must still be an admin; Cancel changes nothing; the asker's confirm runs the
 * reindex with allowRemovals and at most the count shown (the count is in the button's value): one
 * more file gone since the refusal is refused again, with new buttons and the new count; pressing
 * those runs the reindex in the same message.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { REINDEX_ACTIONS, REINDEX_NOT_YOURS_TEXT, reindexButtonValue } from '@lookalike/slack';
import type { RecordedCall } from '../fakes/slack.js';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { type SlackHarness, startSlackHarness } from './harness.js';

const T = { timeout: 180_000 };
const CHANNEL = 'C0CONFIRM';
const COUNT = 8;
/** Files moved away before the first /reindex: more than half, so it is refused. */
const GONE = 5;
/** A workspace owner (users.info) asks; a listed admin (SLACK_ADMIN_USER_IDS) tries to press. */
const ASKER = 'UOWNER';
const OTHER_ADMIN = 'UADMIN';

let stack: TestStack;
let h: SlackHarness;
const aside = join(TEST_TMP_DIR, `slack-confirm-aside-${process.pid}`);

before(async () => {
  stack = await createTestStack({ catalogSize: COUNT });
  h = await startSlackHarness({
    stack,
    fake: { users: { [ASKER]: { is_owner: true } } },
    bot: { adminUserIds: [OTHER_ADMIN], progressIntervalMs: 0 },
  });
  // Most files are gone (a half-synced share): the next reindex would remove GONE items.
  await mkdir(aside, { recursive: true });
  const files = (await readdir(stack.imagesDir)).sort();
  for (const f of files.slice(0, GONE)) await rename(join(stack.imagesDir, f), join(aside, f));
}, T);

after(async () => {
  await h?.close();
  await stack?.close();
  await rm(aside, { recursive: true, force: true });
});

interface ButtonBlock {
  type: string;
  elements?: { type: string; action_id: string; style?: string; text: { text: string }; value?: string }[];
}

const since = (from: number, pick: (c: RecordedCall) => boolean) => (calls: RecordedCall[]) =>
  calls.slice(from).find(pick);
/** True once any item left the catalog. */
const removedAny = () => stack.service.status().catalogSize !== COUNT;

/** Runs /reindex as the asker; resolves with the message ts once it shows the confirmation buttons. */
async function askToReindex(): Promise<{ ts: string; blocks: ButtonBlock[] }> {
  const from = h.fake.calls.length;
  const res = await h.signer.postCommand(h.signer.commandBody('/reindex', { user: ASKER, channel: CHANNEL }));
  assert.equal(res.status, 200);
  const posted = await h.fake.waitFor(
    since(from, (c) => c.method === 'chat.postMessage' && c.args.channel === CHANNEL),
  );
  const ts = String((posted.response as { ts?: string }).ts);
  const update = await h.fake.waitFor(
    since(
      from,
      (c) => c.method === 'chat.update' && c.args.ts === ts && Array.isArray(c.args.blocks) && c.args.blocks.length > 0,
    ),
    60_000,
  );
  return { ts, blocks: update.args.blocks as ButtonBlock[] };
}

/** Presses a button on the message `ts` as `user`; resolves with the index of the first call after the press. */
async function press(
  user: string,
  ts: string,
  action: 'confirm' | 'cancel',
  value = `${ASKER}:${GONE}`,
): Promise<number> {
  const from = h.fake.calls.length;
  const payload = h.signer.blockActionsPayload({
    user,
    channel: CHANNEL,
    messageTs: ts,
    actionId: REINDEX_ACTIONS[action],
    value,
    blockId: 'reindex_confirmation',
  });
  const res = await h.signer.postAction(payload);
  assert.equal(res.status, 200, 'the press is acked');
  return from;
}

/** The private answer (response_url) to a press, once it is posted. */
const privateAnswer = (from: number) =>
  h.fake.waitFor(
    since(from, (c) => c.method === 'response_url'),
    60_000,
  );

let message: { ts: string; blocks: ButtonBlock[] };

test(
  'GIVEN most files gone THEN /reindex turns its message into the refusal with Remove and Cancel buttons carrying the count',
  T,
  async () => {
    message = await askToReindex();
    const text = JSON.stringify(message.blocks);
    assert.match(text, new RegExp(`would remove ${GONE} of the ${COUNT} items`));
    const actions = message.blocks.find((b) => b.type === 'actions');
    assert.ok(actions?.elements, 'an actions block');
    assert.deepEqual(
      actions.elements.map((e) => [e.type, e.action_id, e.style, e.text.text, e.value]),
      [
        ['button', REINDEX_ACTIONS.confirm, 'danger', `Remove ${GONE} items and reindex`, `${ASKER}:${GONE}`],
        ['button', REINDEX_ACTIONS.cancel, undefined, 'Cancel', `${ASKER}:${GONE}`],
      ],
    );
    assert.equal(stack.service.status().catalogSize, COUNT, 'nothing was removed');
    assert.equal(stack.catalog.items().length, COUNT);
  },
);

test('GIVEN another admin presses Remove THEN it is refused privately and nothing runs', T, async () => {
  const from = await press(OTHER_ADMIN, message.ts, 'confirm');
  const answer = await privateAnswer(from);
  assert.equal(answer.args.response_type, 'ephemeral');
  assert.equal(answer.args.replace_original, false, 'the message with the buttons stays');
  assert.equal(answer.args.text, REINDEX_NOT_YOURS_TEXT);
  assert.deepEqual(
    h.fake.calls.slice(from).filter((c) => c.method.startsWith('chat.')),
    [],
    'the message was not touched',
  );
  assert.equal(stack.service.status().reindexing, false);
  assert.equal(removedAny(), false);
});

test('GIVEN the asker is no longer a workspace admin THEN the press is FORBIDDEN and nothing runs', T, async () => {
  h.fake.users.set(ASKER, {});
  try {
    const from = await press(ASKER, message.ts, 'confirm');
    const answer = await privateAnswer(from);
    assert.equal(answer.args.text, USER_MESSAGES.FORBIDDEN);
    assert.deepEqual(
      h.fake.calls.slice(from).filter((c) => c.method.startsWith('chat.')),
      [],
    );
  } finally {
    h.fake.users.set(ASKER, { is_owner: true });
  }
  assert.equal(removedAny(), false);
});

test('GIVEN the asker presses Cancel THEN the message says nothing changed and the buttons go', T, async () => {
  const from = await press(ASKER, message.ts, 'cancel');
  const update = await h.fake.waitFor(
    since(from, (c) => c.method === 'chat.update' && c.args.ts === message.ts),
    60_000,
  );
  assert.match(String(update.args.text), new RegExp(`cancelled by <@${ASKER}>.*Nothing was changed`));
  assert.deepEqual(update.args.blocks, [], 'the buttons are removed');
  assert.equal(removedAny(), false);
});

test(
  'GIVEN one more file gone since the refusal THEN the press is refused again with the new count and new buttons, and nothing is removed',
  T,
  async () => {
    message = await askToReindex();
    const files = (await readdir(stack.imagesDir)).sort();
    await rename(join(stack.imagesDir, files[0]!), join(aside, files[0]!));
    const from = await press(ASKER, message.ts, 'confirm', reindexButtonValue(ASKER, GONE));
    const again = await h.fake.waitFor(
      since(
        from,
        (c) =>
          c.method === 'chat.update' &&
          c.args.ts === message.ts &&
          Array.isArray(c.args.blocks) &&
          c.args.blocks.length > 0,
      ),
      60_000,
    );
    const text = JSON.stringify(again.args.blocks);
    assert.match(text, new RegExp(`would remove ${GONE + 1} of the ${COUNT} items`));
    assert.match(text, new RegExp(`since the removal of ${GONE} items was confirmed`));
    const actions = (again.args.blocks as ButtonBlock[]).find((b) => b.type === 'actions');
    assert.deepEqual(
      actions?.elements?.map((e) => [e.action_id, e.text.text, e.value]),
      [
        [REINDEX_ACTIONS.confirm, `Remove ${GONE + 1} items and reindex`, `${ASKER}:${GONE + 1}`],
        [REINDEX_ACTIONS.cancel, 'Cancel', `${ASKER}:${GONE + 1}`],
      ],
    );
    assert.equal(removedAny(), false, 'nothing was removed');
    assert.equal(stack.catalog.items().length, COUNT);
  },
);

test(
  'GIVEN the asker presses the new Remove THEN the reindex runs with removals and the same message ends with the summary',
  T,
  async () => {
    const from = await press(ASKER, message.ts, 'confirm', reindexButtonValue(ASKER, GONE + 1));
    const first = await h.fake.waitFor(
      since(from, (c) => c.method === 'chat.update' && c.args.ts === message.ts),
      60_000,
    );
    assert.deepEqual(first.args.blocks, [], 'the buttons are taken away at once');
    assert.match(String(first.args.text), /Reindexing the catalog/);
    const done = await h.fake.waitFor(
      since(
        from,
        (c) => c.method === 'chat.update' && c.args.ts === message.ts && /Reindex done/.test(String(c.args.text)),
      ),
      120_000,
    );
    assert.match(String(done.args.text), new RegExp(`\\b${GONE + 1} removed\\b`));
    assert.equal(stack.service.status().catalogSize, COUNT - GONE - 1);
  },
);
