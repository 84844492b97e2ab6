/**
 * The first index of a new catalog, seen from Discord (real discord.js against the loopback fake,
 * the real service and embedder): a photo posted before anything is committed gets the indexing
 * sentence, never "an admin needs to run /reindex"; a photo posted once the first batch is in
 * gets results with the indexing notice. The catalog's embedder is gated, so both moments are
 * reached on purpose.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { indexBuildingSentence, USER_MESSAGES } from '@lookalike/core';
import { snowflake } from '../fakes/discord.js';
import { type SteppedEmbedder, steppedEmbedder, until } from '../helpers/gate.js';
import { type Harness, isMessagePost, payload, startHarness } from './harness.js';

const T = { timeout: 180_000 };
let h: Harness;
let gate: SteppedEmbedder | undefined;

before(async () => {
  h = await startHarness({
    stack: {
      catalogSize: 16,
      reindex: false,
      catalogEmbedder: (real) => {
        gate = steppedEmbedder(real);
        return gate;
      },
    },
  });
}, T);

after(async () => {
  gate?.openAll();
  await h?.close();
});

async function postPhotoAndWait(): Promise<ReturnType<typeof payload>> {
  const img = await h.image(1);
  const msg = h.fake.sendMessage({
    channelId: h.fake.watchedChannelId,
    author: { id: snowflake(), username: 'early-bird' },
    attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
  });
  const reply = await h.fake.waitFor(
    (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
    120_000,
  );
  return payload(reply);
}

test(
  'GIVEN a new catalog whose first index runs THEN a photo gets the indexing sentence, then results with the indexing notice',
  T,
  async () => {
    assert.ok(gate !== undefined);
    const run = h.stack.service.reindex();
    await gate.firstHeld;
    assert.equal(h.stack.catalog.size(), 0, 'nothing committed yet');

    const early = await postPhotoAndWait();
    assert.match(early.content ?? '', /^The catalog is being indexed right now: 0 of 16 items so far/);
    assert.equal(early.content, indexBuildingSentence(h.stack.catalog.reindexProgress()), 'the service sentence as is');
    assert.notEqual(early.content, USER_MESSAGES.INDEX_EMPTY);
    assert.doesNotMatch(early.content ?? '', /admin|\/reindex/);

    gate.allow(8);
    await until(() => h.stack.catalog.size() >= 8, 'the first batch to commit');
    const later = await postPhotoAndWait();
    assert.match(later.content ?? '', /Catalog still indexing: 8 of 16 items searchable so far\./);
    const results = later.embeds?.[0]?.description?.split('\n') ?? [];
    assert.equal(results.length, 6, 'results from the 8 items indexed so far');

    gate.openAll();
    const summary = await run;
    assert.equal(summary.added, 16);
  },
);
