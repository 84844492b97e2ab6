/**
 * Feedback on Discord end to end: the real discord.js client (through createDiscordBot) against
 * the loopback gateway and REST fake, the real service (untrained ResNet50, SQLite + FAISS), and
 * the process's real recorder from the runtime (feedback.sqlite in a temp data dir). A 👍
 * dispatched as MESSAGE_REACTION_ADD on the bot's answer (not in discord.js's cache: the
 * partials) is stored with the answer's request and results and a salted hash of the user.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { feedbackPath, openSqliteFeedbackStore } from '@lookalike/catalog';
import { type FeedbackStore, hashUserId, parseConfig, silentLogger } from '@lookalike/core';
import { createDiscordBot, type DiscordBot } from '@lookalike/discord';
import { feedbackSalt, openFeedback, type ProcessFeedback } from '@lookalike/runtime';
import { FakeDiscord, type RecordedRequest, snowflake } from '../fakes/discord.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { databaseBytes, type WatchedRecorder, watchRecorder } from './helpers.js';

let stack: TestStack;
let fake: FakeDiscord;
let bot: DiscordBot;
let feedback: ProcessFeedback;
let watched: WatchedRecorder;
let dataDir: string;
let salt: string;

before(async () => {
  stack = await createTestStack({ catalogSize: 12 });
  fake = await FakeDiscord.start({ heartbeatInterval: 15_000 });
  dataDir = join(stack.root, 'feedback-data');
  const config = parseConfig({ LOOKALIKE_DATA_DIR: dataDir });
  feedback = await openFeedback(config, silentLogger);
  salt = feedbackSalt(config);
  watched = watchRecorder(feedback.recorder);
  bot = createDiscordBot({
    service: stack.service,
    token: fake.token,
    appId: fake.appId,
    watchChannels: [fake.watchedChannelId],
    adminRoleIds: [],
    apiBase: fake.apiBase,
    clientOptions: { waitGuildTimeout: 2000 },
    feedback: watched.recorder,
  });
  await bot.start();
});

after(async () => {
  await bot?.stop();
  await fake?.close();
  await feedback?.close();
  await stack?.close();
});

const person = () => ({ id: snowflake(), username: 'shopper' });
const responseId = (r: RecordedRequest) => (r.response as { id: string }).id;

async function photo(index = 0) {
  const item = stack.items[index]!;
  const png = item.path.endsWith('.png');
  return {
    filename: `photo.${png ? 'png' : 'jpg'}`,
    contentType: png ? 'image/png' : 'image/jpeg',
    bytes: await readFile(item.path),
  };
}

/** The store the report reads, opened beside the running recorder. */
async function withReader<T>(fn: (store: FeedbackStore) => Promise<T>): Promise<T> {
  const store = openSqliteFeedbackStore(feedbackPath(dataDir), { readonly: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('Discord feedback', () => {
  let answerId: string;
  const voter = person();

  test('GIVEN a photo post THEN its answer is recorded under the id of the message the bot posted', async () => {
    const msg = fake.sendMessage({ channelId: fake.watchedChannelId, author: person(), attachments: [await photo(0)] });
    const reply = await fake.waitFor(
      (r) =>
        r.method === 'POST' &&
        r.path === `/channels/${fake.watchedChannelId}/messages` &&
        (r.json as { message_reference?: { message_id: string } })?.message_reference?.message_id === msg.id,
      60_000,
    );
    answerId = responseId(reply);
    const [answered] = await watched.waitForAnswers(1);
    assert.equal(answered?.surface, 'discord');
    assert.equal(answered?.messageKey, answerId);
    assert.equal(answered?.resultIds.length, 6);
    const catalogIds = new Set(stack.items.map((i) => i.id));
    for (const id of answered?.resultIds ?? []) assert.ok(catalogIds.has(id), `${id} is a catalog item`);
    const stored = await withReader((s) => s.findAnswer('discord', answerId));
    assert.deepEqual(stored?.resultIds, answered?.resultIds);
    assert.equal(stored?.requestId, answered?.requestId);
  });

  test('GIVEN a 👍 reaction on the answer THEN it is stored with the answer’s request, results and the hashed user', async () => {
    const delivered = fake.addReaction({ messageId: answerId, emoji: '👍', user: voter });
    assert.deepEqual(delivered, [[0, 1]], 'the bot asked for the GuildMessageReactions intent');
    const [rec] = await watched.waitForRecords(1);
    assert.deepEqual(rec, {
      input: { kind: 'up', surface: 'discord', messageKey: answerId, userId: `discord:${voter.id}` },
      stored: true,
    });
    const events = await withReader((s) => s.events(0));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, 'up');
    assert.equal(events[0]?.requestId, watched.answers[0]?.requestId);
    assert.deepEqual(events[0]?.resultIds, watched.answers[0]?.resultIds);
    assert.equal(events[0]?.userHash, hashUserId(salt, `discord:${voter.id}`));
  });

  test('GIVEN other emoji, a bot, a photo message and a skin-toned 👎 THEN only the votes on the answer are stored', async () => {
    const photoMsg = fake.sendMessage({ channelId: fake.otherChannelId, author: person(), content: 'hello' });
    fake.addReaction({ messageId: answerId, emoji: '🎉', user: person() });
    fake.addReaction({ messageId: answerId, emoji: '👍', user: { ...person(), bot: true } });
    fake.addReaction({ messageId: answerId, emoji: '👍', user: voter }); // the same vote again
    fake.addReaction({ messageId: photoMsg.id, channelId: fake.otherChannelId, emoji: '👍', user: person() });
    const downVoter = person();
    fake.addReaction({ messageId: answerId, emoji: '👎🏽', user: downVoter });
    const records = await watched.waitForRecords(4);
    // Handlers run concurrently: compare without their order.
    const seen = records.slice(1).map((r) => `${r.input.kind} ${r.input.messageKey} ${r.stored}`);
    assert.deepEqual(
      seen.sort(),
      [`down ${answerId} true`, `up ${answerId} false`, `up ${photoMsg.id} false`].sort(),
      'no record call for 🎉 or the bot; the repeated 👍 and the photo’s 👍 are not stored',
    );
    const events = await withReader((s) => s.events(0));
    assert.deepEqual(
      events.map((e) => [e.kind, e.userHash]),
      [
        ['up', hashUserId(salt, `discord:${voter.id}`)],
        ['down', hashUserId(salt, `discord:${downVoter.id}`)],
      ],
    );
  });

  test('GIVEN /similar THEN the edited deferred reply is the recorded answer and a 👍 on it counts', async () => {
    const asker = person();
    const i = fake.sendInteraction({
      kind: 'slash',
      name: 'similar',
      user: asker,
      attachments: { image: await photo(3) },
    });
    const edit = await fake.waitFor(
      (r) => r.method === 'PATCH' && r.path === `/webhooks/${fake.appId}/${i.token}/messages/@original`,
      60_000,
    );
    const [, answered] = await watched.waitForAnswers(2);
    assert.equal(answered?.messageKey, responseId(edit));
    fake.addReaction({ messageId: responseId(edit), emoji: '👍', user: asker });
    const records = await watched.waitForRecords(5);
    assert.equal(records[4]?.stored, true);
    assert.deepEqual(await withReader((s) => s.answerCounts(0)), { discord: 2 });
  });

  test('GIVEN the votes THEN the database file never holds a raw Discord user id', async () => {
    const bytes = await databaseBytes(feedbackPath(dataDir));
    const userIds = watched.records.map((r) => r.input.userId);
    assert.ok(userIds.length >= 5);
    for (const userId of userIds) {
      assert.equal(bytes.includes(userId), false, `${userId} is not in the file`);
      assert.equal(bytes.includes(userId.replace('discord:', '')), false, 'nor the bare snowflake');
    }
    assert.ok(bytes.includes(hashUserId(salt, userIds[0]!)), 'the hash is');
  });
});
