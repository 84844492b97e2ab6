/**
 * The first index of a new catalog, seen from Slack (real Bolt over signed HTTP, loopback fake
 * Slack, the real service and embedder): a share before anything is committed gets the indexing
 * sentence in its thread, never "an admin needs to run /reindex"; a share once the first batch is
 * in gets results with the indexing notice. The catalog's embedder is gated, so both moments are
 * reached on purpose.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import type { RecordedCall } from '../fakes/slack.js';
import { type SteppedEmbedder, steppedEmbedder, until } from '../helpers/gate.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { fileShareEvent, type SlackHarness, startSlackHarness } from './harness.js';

const CHANNEL = 'C0GENERAL';
const T = { timeout: 180_000 };
let stack: TestStack;
let h: SlackHarness;
let gate: SteppedEmbedder | undefined;

before(async () => {
  stack = await createTestStack({
    catalogSize: 16,
    reindex: false,
    catalogEmbedder: (real) => {
      gate = steppedEmbedder(real);
      return gate;
    },
  });
  h = await startSlackHarness({ stack });
}, T);

after(async () => {
  gate?.openAll();
  await h?.close();
  await stack?.close();
});

/** Shares the photo and resolves with the bot's messages in that share's thread once one mentions `until`. */
async function shareAndWait(until: RegExp): Promise<string> {
  const from = h.fake.calls.length;
  const file = h.fake.addFile({ name: 'look.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U1' });
  const ev = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U1', files: [file] });
  const res = await h.signer.postEvent(ev);
  assert.equal(res.status, 200);
  const inThread = (calls: RecordedCall[]) =>
    calls.slice(from).filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ev.ts);
  await h.fake.waitFor((calls) => inThread(calls).find((c) => until.test(JSON.stringify(c.args))), 120_000);
  return JSON.stringify(inThread(h.fake.calls).map((c) => c.args));
}

test(
  'GIVEN a new catalog whose first index runs THEN a share gets the indexing sentence, then results with the indexing notice',
  T,
  async () => {
    assert.ok(gate !== undefined);
    const run = stack.service.reindex();
    await gate.firstHeld;
    assert.equal(stack.catalog.size(), 0, 'nothing committed yet');

    const early = await shareAndWait(/being indexed right now/);
    assert.match(early, /The catalog is being indexed right now: 0 of 16 items so far/);
    assert.ok(!early.includes(USER_MESSAGES.INDEX_EMPTY));
    assert.doesNotMatch(early, /admin|\/reindex/);

    gate.allow(8);
    await until(() => stack.catalog.size() >= 8, 'the first batch to commit');
    const later = await shareAndWait(/Catalog still indexing/);
    assert.match(later, /Catalog still indexing: 8 of 16 items searchable so far\./);
    assert.match(later, /\*6\. /, 'six results from the 8 items indexed so far');

    gate.openAll();
    const summary = await run;
    assert.equal(summary.added, 16);
  },
);
