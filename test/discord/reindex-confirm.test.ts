/**
 * /reindex refused for mass removal, on Discord end to end (real discord.js against the loopback
 * fake, the real service, catalog and embedder): the reply shows the catalog's sentence with a
 * danger "Remove N items and reindex" and a "Cancel" button; a press by anyone but the asking admin
 * is refused privately and runs nothing; the asker must still be an admin; Cancel changes nothing;
 * the asker's confirm runs the reindex with allowRemovals and at most the count shown (the count is
 * in the button's custom_id): one more file gone since the refusal is refused again, with new
 * buttons and the new count; pressing those edits the same message to the summary.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import {
  REINDEX_CANCELLED_TEXT,
  REINDEX_CONFIRMED_TEXT,
  REINDEX_NOT_YOURS_TEXT,
  reindexButtonId,
} from '@lookalike/discord';
import { type RecordedRequest, snowflake } from '../fakes/discord.js';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { type Harness, payload, startHarness } from './harness.js';

const T = { timeout: 180_000 };
const COUNT = 8;
/** Files moved away before the first /reindex: more than half, so it is refused. */
const GONE = 5;
let h: Harness;
const aside = join(TEST_TMP_DIR, `discord-confirm-aside-${process.pid}`);

interface Button {
  type: number;
  style: number;
  label: string;
  custom_id: string;
}
interface Row {
  type: number;
  components: Button[];
}

const admin = { id: snowflake(), username: 'admin' };
/** The admin's /reindex reply with its buttons (set by the first test). */
let confirmation: { content: string; components: Row[] };

before(async () => {
  h = await startHarness({ stack: { catalogSize: COUNT } });
  // Most files are gone (a half-synced share): the next reindex would remove GONE items.
  await mkdir(aside, { recursive: true });
  const files = (await readdir(h.stack.imagesDir)).sort();
  for (const f of files.slice(0, GONE)) await rename(join(h.stack.imagesDir, f), join(aside, f));
}, T);

after(async () => {
  await h?.close();
  await rm(aside, { recursive: true, force: true });
});

const isCallback = (i: { id: string; token: string }) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/interactions/${i.id}/${i.token}/callback`;
const isOriginalEdit = (i: { token: string }) => (r: RecordedRequest) =>
  r.method === 'PATCH' && r.path === `/webhooks/${h.fake.appId}/${i.token}/messages/@original`;
const body = (r: RecordedRequest) => (r.json ?? {}) as { content?: string; components?: Row[] };
const confirmed = () => h.log.entries.filter((e) => e.msg === 'mass removal confirmed; reindex started').length;

test(
  'GIVEN most files gone THEN /reindex shows the refusal with a Remove and a Cancel button carrying the count',
  T,
  async () => {
    const i = h.fake.sendInteraction({ kind: 'slash', name: 'reindex', user: admin, roles: [h.fake.adminRoleId] });
    const edit = await h.fake.waitFor((r) => isOriginalEdit(i)(r) && (body(r).components?.length ?? 0) > 0, 60_000);
    confirmation = { content: body(edit).content ?? '', components: body(edit).components ?? [] };
    assert.match(confirmation.content, new RegExp(`would remove ${GONE} of the ${COUNT} items`));
    const buttons = confirmation.components.flatMap((row) => row.components);
    assert.deepEqual(
      buttons.map((b) => [b.type, b.style, b.label, b.custom_id]),
      [
        [2, 4, `Remove ${GONE} items and reindex`, reindexButtonId('confirm', admin.id, GONE)],
        [2, 2, 'Cancel', reindexButtonId('cancel', admin.id, GONE)],
      ],
    );
    assert.equal(buttons[0]?.custom_id, `reindex:confirm:${admin.id}:${GONE}`);
    assert.equal(h.stack.service.status().catalogSize, COUNT, 'nothing was removed');
    assert.equal(h.stack.catalog.items().length, COUNT);
  },
);

test('GIVEN another admin presses Remove THEN it is refused privately and nothing runs', T, async () => {
  const other = { id: snowflake(), username: 'other-admin' };
  const press = h.fake.pressButton({
    customId: reindexButtonId('confirm', admin.id, GONE),
    message: confirmation,
    user: other,
    permissions: String(1 << 5), // Manage Server: an admin, but not the one who asked
  });
  const cb = await h.fake.waitFor(isCallback(press), 60_000);
  assert.equal(payload(cb).type, 4);
  assert.equal(payload(cb).data?.flags, 64);
  assert.equal(payload(cb).data?.content, REINDEX_NOT_YOURS_TEXT);
  assert.equal(confirmed(), 0, 'no reindex started');
  assert.equal(h.stack.service.status().reindexing, false);
  assert.equal(h.stack.service.status().catalogSize, COUNT);
});

test('GIVEN the asker no longer has an admin role THEN the press is FORBIDDEN and nothing runs', T, async () => {
  const press = h.fake.pressButton({
    customId: reindexButtonId('confirm', admin.id, GONE),
    message: confirmation,
    user: admin,
  });
  const cb = await h.fake.waitFor(isCallback(press), 60_000);
  assert.equal(payload(cb).type, 4);
  assert.equal(payload(cb).data?.flags, 64);
  assert.equal(payload(cb).data?.content, USER_MESSAGES.FORBIDDEN);
  assert.equal(confirmed(), 0);
  assert.equal(h.stack.service.status().catalogSize, COUNT);
});

test('GIVEN the asker presses Cancel THEN the message says nothing changed and the buttons go', T, async () => {
  const press = h.fake.pressButton({
    customId: reindexButtonId('cancel', admin.id, GONE),
    message: confirmation,
    user: admin,
    roles: [h.fake.adminRoleId],
  });
  const cb = await h.fake.waitFor(isCallback(press), 60_000);
  assert.equal(payload(cb).type, 7, 'the message with the buttons is updated');
  const data = (cb.json as { data?: { content?: string; components?: unknown[] } }).data;
  assert.equal(data?.content, REINDEX_CANCELLED_TEXT);
  assert.deepEqual(data?.components, []);
  assert.equal(confirmed(), 0);
  assert.equal(h.stack.service.status().catalogSize, COUNT);
});

test(
  'GIVEN one more file gone since the refusal THEN the press is refused again with the new count and new buttons, and nothing is removed',
  T,
  async () => {
    const files = (await readdir(h.stack.imagesDir)).sort();
    await rename(join(h.stack.imagesDir, files[0]!), join(aside, files[0]!));
    const press = h.fake.pressButton({
      customId: reindexButtonId('confirm', admin.id, GONE),
      message: confirmation,
      user: admin,
      roles: [h.fake.adminRoleId],
    });
    const cb = await h.fake.waitFor(isCallback(press), 60_000);
    assert.equal(payload(cb).type, 7);
    const edit = await h.fake.waitFor((r) => isOriginalEdit(press)(r) && (body(r).components?.length ?? 0) > 0, 60_000);
    confirmation = { content: body(edit).content ?? '', components: body(edit).components ?? [] };
    assert.match(confirmation.content, new RegExp(`would remove ${GONE + 1} of the ${COUNT} items`));
    assert.match(confirmation.content, new RegExp(`since the removal of ${GONE} items was confirmed`));
    const buttons = confirmation.components.flatMap((row) => row.components);
    assert.deepEqual(
      buttons.map((b) => [b.label, b.custom_id]),
      [
        [`Remove ${GONE + 1} items and reindex`, reindexButtonId('confirm', admin.id, GONE + 1)],
        ['Cancel', reindexButtonId('cancel', admin.id, GONE + 1)],
      ],
    );
    assert.equal(confirmed(), 1, 'the press was taken as a confirmation of the count it carried');
    assert.equal(h.stack.service.status().catalogSize, COUNT, 'nothing was removed');
    assert.equal(h.stack.catalog.items().length, COUNT);
  },
);

test(
  'GIVEN the asker presses the new Remove THEN the reindex runs with removals and the same message ends with the summary',
  T,
  async () => {
    const press = h.fake.pressButton({
      customId: reindexButtonId('confirm', admin.id, GONE + 1),
      message: confirmation,
      user: admin,
      roles: [h.fake.adminRoleId],
    });
    const cb = await h.fake.waitFor(isCallback(press), 60_000);
    assert.equal(payload(cb).type, 7);
    const data = (cb.json as { data?: { content?: string; components?: unknown[] } }).data;
    assert.equal(data?.content, REINDEX_CONFIRMED_TEXT);
    assert.deepEqual(data?.components, [], 'the buttons are taken away at once');
    const done = await h.fake.waitFor(
      (r) => isOriginalEdit(press)(r) && /Reindex done/.test(body(r).content ?? ''),
      120_000,
    );
    assert.match(body(done).content ?? '', new RegExp(`\\b${GONE + 1} removed\\b`));
    assert.equal(confirmed(), 2);
    assert.equal(h.stack.service.status().catalogSize, COUNT - GONE - 1);
  },
);
