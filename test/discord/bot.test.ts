/**
 * Discord end to end: the real discord.js Client against the loopback FakeDiscord, answering
 * with the real core service (untrained ResNet50 on ONNX Runtime, generated catalog).
 */
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { COLLAGE_FILENAME } from '@lookalike/discord';
import { snowflake } from '../fakes/discord.js';
import { makeTestCatalog } from '../helpers/catalog.js';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { type Harness, isJpeg, isMessagePost, ofInteraction, payload, startHarness } from './harness.js';

const T = { timeout: 120_000 };

let h: Harness;
/** Every product name in the catalog: result lines must name real items. */
let productNames: Set<string>;

before(async () => {
  // The rate limiter's clock is frozen, so the 6th photo is over the limit however slow the machine.
  h = await startHarness({ stack: { catalogSize: 24, limits: { ratePerMinute: 5 }, service: { now: () => 0 } } });
  productNames = new Set(h.stack.items.map((i) => i.productDisplayName));
}, T);

after(async () => {
  await h?.close();
});

function user() {
  return { id: snowflake(), username: `shopper${Math.floor(Math.random() * 1000)}` };
}

/**
 * Posts a marker the bot must answer (a mention without an image in `channelId`) and resolves with
 * its reply. The gateway delivers events in order and the bot decides to ignore a post before its
 * first await, so once the marker is answered, every earlier post has been seen: "no reply" to an
 * earlier post is then a fact, not a guess based on waiting.
 */
async function marker(channelId: string) {
  const msg = h.fake.sendMessage({ channelId, author: user(), mentionBot: true, content: 'marker' });
  const reply = await h.fake.waitFor(
    (r) => isMessagePost(channelId)(r) && payload(r).message_reference?.message_id === msg.id,
    60_000,
  );
  assert.equal(payload(reply).content, USER_MESSAGES.NO_IMAGE);
  return reply;
}

/** Asserts an embed lists `k` ranked results naming catalog items, with a similarity percentage. */
function assertResultEmbed(description: string | undefined, k: number): string[] {
  assert.ok(description, 'embed has a description');
  const lines = description.split('\n');
  assert.equal(lines.length, k, `embed lists ${k} results:\n${description}`);
  lines.forEach((line, i) => {
    const m = /^(\d+)\. (.+?) — (.+?) — (\d{1,3}(?:\.\d+)?)%$/.exec(line);
    assert.ok(m, `result line has rank, name, article type · colour and similarity: ${line}`);
    assert.equal(Number(m[1]), i + 1);
    assert.ok(productNames.has(m[2]!.replace(/\\(.)/g, '$1')), `"${m[2]}" is a catalog product`);
    assert.ok(Number(m[4]) >= 0 && Number(m[4]) <= 100);
  });
  return lines;
}

describe('connection', () => {
  test('GIVEN the bot starts THEN it identifies with Guilds, GuildMessages, GuildMessageReactions and MessageContent only', () => {
    assert.equal(h.fake.lastIntents, 1 | 512 | 1024 | 32768);
    assert.equal(h.fake.identifyCount, 1);
    const gw = h.fake.requests.find((r) => r.path === '/gateway/bot');
    assert.ok(gw, 'gateway discovered through GET /gateway/bot');
    assert.equal(gw.headers.authorization, `Bot ${h.fake.token}`);
  });
});

describe('message content hint', () => {
  test(
    'GIVEN a watched-channel message with no content and no attachments THEN the Message Content hint is logged once',
    T,
    async () => {
      const isHint = (e: { level: string; msg: string | undefined }) =>
        e.level === 'warn' && /Message Content intent/.test(e.msg ?? '');
      h.fake.sendMessage({ channelId: h.fake.watchedChannelId, author: user(), content: '' });
      h.fake.sendMessage({ channelId: h.fake.watchedChannelId, author: user(), content: '' });
      await marker(h.fake.watchedChannelId);
      assert.equal(h.log.entries.filter(isHint).length, 1);
    },
  );
});

describe('scenario 1: image post in a watched channel', () => {
  test(
    'GIVEN an image post in a watched channel THEN the reply carries the collage and an embed of 6 results',
    T,
    async () => {
      const img = await h.image(3);
      const msg = h.fake.sendMessage({
        channelId: h.fake.watchedChannelId,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      const reply = await h.fake.waitFor(
        (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
        60_000,
      );
      const p = payload(reply);
      // a reply to the post that does not ping its author
      assert.equal(p.message_reference?.message_id, msg.id);
      assert.equal(p.allowed_mentions?.replied_user, false);
      // the collage: one JPEG file, shown by the embed
      assert.equal(reply.files.length, 1);
      assert.equal(reply.files[0]!.filename, COLLAGE_FILENAME);
      assert.ok(isJpeg(reply.files[0]!.bytes), 'collage is a JPEG');
      assert.ok(reply.files[0]!.bytes.length < 1024 * 1024);
      assert.equal(p.embeds?.length, 1);
      assert.equal(p.embeds![0]!.image?.url, `attachment://${COLLAGE_FILENAME}`);
      assertResultEmbed(p.embeds![0]!.description, 6);
      // untrained weights → the notice is shown with the answer
      assert.match(p.content ?? '', /untrained|random/i);
      // the typing indicator went out before the reply
      const typing = h.fake.requests.find(
        (r) => r.method === 'POST' && r.path === `/channels/${h.fake.watchedChannelId}/typing`,
      );
      assert.ok(typing && typing.at <= reply.at, 'typing indicator before the reply');
    },
  );

  test('GIVEN one post with five images THEN the first four get an answer each', T, async () => {
    const imgs = await Promise.all([h.image(1), h.image(5), h.image(9), h.image(15), h.image(16)]);
    const msg = h.fake.sendMessage({
      channelId: h.fake.watchedChannelId,
      author: user(),
      attachments: imgs.map((i) => ({ filename: i.filename, contentType: i.contentType, bytes: i.bytes })),
    });
    const replies = await h.fake.waitForCount(
      (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
      4,
      60_000,
    );
    for (const r of replies) assert.equal(r.files[0]?.filename, COLLAGE_FILENAME);
    // The handler logs its result once it is done with the message: no reply to it can follow.
    const done = await h.log.waitFor((e) => e.msg === 'image post done' && e.bindings.messageId === msg.id);
    assert.deepEqual(done.obj, { answered: 4, failed: [], skipped: 1 });
    const answered = h.log.entries.filter((e) => e.msg === 'answered image post' && e.bindings.messageId === msg.id);
    assert.equal(answered.length, 4);
    const toPost = h.fake.requests.filter(
      (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
    );
    assert.equal(toPost.length, 4);
  });

  test('GIVEN a post with only a text file or from a bot in a watched channel THEN there is no reply', T, async () => {
    const img = await h.image(2);
    const textMsg = h.fake.sendMessage({
      channelId: h.fake.watchedChannelId,
      author: user(),
      attachments: [{ filename: 'notes.txt', contentType: 'text/plain', bytes: Buffer.from('hello') }],
    });
    const botMsg = h.fake.sendMessage({
      channelId: h.fake.watchedChannelId,
      author: { ...user(), bot: true },
      attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
    });
    await marker(h.fake.watchedChannelId);
    const replied = h.fake.requests.filter(
      (r) =>
        isMessagePost(h.fake.watchedChannelId)(r) &&
        [textMsg.id, botMsg.id].includes(String(payload(r).message_reference?.message_id)),
    );
    assert.deepEqual(replied, []);
  });
});

describe('scenario 2: unwatched channel', () => {
  test(
    'GIVEN an image post in an unwatched channel without a mention THEN no reply; with a mention THEN a reply',
    T,
    async () => {
      const img = await h.image(4);
      const from = h.fake.requests.length;
      const quiet = h.fake.sendMessage({
        channelId: h.fake.otherChannelId,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      // The mention that follows is the marker: once it is answered, the quiet post was seen.
      const loud = h.fake.sendMessage({
        channelId: h.fake.otherChannelId,
        author: user(),
        mentionBot: true,
        content: 'what is this?',
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      const reply = await h.fake.waitFor(
        (r) => isMessagePost(h.fake.otherChannelId)(r) && payload(r).message_reference?.message_id === loud.id,
        60_000,
      );
      const sent = h.fake.requests.slice(from);
      assert.ok(
        !sent.some((r) => JSON.stringify(r.json ?? '').includes(quiet.id)),
        'nothing refers to the post without a mention',
      );
      assert.deepEqual(
        sent.filter(isMessagePost(h.fake.otherChannelId)),
        [reply],
        'the only message in the unwatched channel is the answer to the mention',
      );
      assert.equal(reply.files[0]?.filename, COLLAGE_FILENAME);
      assertResultEmbed(payload(reply).embeds?.[0]?.description, 6);
    },
  );

  test('GIVEN a mention with a non-image attachment THEN the friendly UNSUPPORTED_IMAGE sentence', T, async () => {
    const msg = h.fake.sendMessage({
      channelId: h.fake.otherChannelId,
      author: user(),
      mentionBot: true,
      attachments: [{ filename: 'report.pdf', contentType: 'application/pdf', bytes: Buffer.from('%PDF-1.4') }],
    });
    const reply = await h.fake.waitFor(
      (r) => isMessagePost(h.fake.otherChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
    );
    assert.equal(payload(reply).content, USER_MESSAGES.UNSUPPORTED_IMAGE);
    assert.equal(reply.files.length, 0);
  });
});

describe('scenario 3: /similar', () => {
  test('GIVEN /similar with an image THEN it is deferred, then @original is edited with the result', T, async () => {
    const img = await h.image(6);
    const i = h.fake.sendInteraction({
      kind: 'slash',
      name: 'similar',
      user: user(),
      attachments: { image: { filename: img.filename, contentType: img.contentType, bytes: img.bytes } },
    });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 5, 'deferred (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE)');
    assert.equal((payload(cb).data?.flags ?? 0) & 64, 0, 'the deferred answer is public');
    assert.equal(cb.headers.authorization, undefined);
    const edit = await h.fake.waitFor(
      (r) => r.method === 'PATCH' && r.path === `/webhooks/${h.fake.appId}/${i.token}/messages/@original`,
      60_000,
    );
    assert.ok(edit.at >= cb.at);
    assert.equal(edit.files[0]?.filename, COLLAGE_FILENAME);
    assert.ok(isJpeg(edit.files[0]!.bytes));
    assertResultEmbed(payload(edit).embeds?.[0]?.description, 6);
  });

  test('GIVEN /similar with category and k THEN the edit lists k results of that category', T, async () => {
    const counts = new Map<string, number>();
    for (const it of h.stack.items) counts.set(it.articleType, (counts.get(it.articleType) ?? 0) + 1);
    const [category] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const img = await h.image(7);
    const i = h.fake.sendInteraction({
      kind: 'slash',
      name: 'similar',
      user: user(),
      options: [
        { name: 'category', type: 3, value: category },
        { name: 'k', type: 4, value: 2 },
      ],
      attachments: { image: { filename: img.filename, contentType: img.contentType, bytes: img.bytes } },
    });
    const edit = await h.fake.waitFor(
      (r) => r.method === 'PATCH' && r.path.includes(`/${i.token}/messages/@original`),
      60_000,
    );
    const lines = assertResultEmbed(payload(edit).embeds?.[0]?.description, 2);
    for (const line of lines) assert.ok(line.includes(` — ${category} · `), `${line} is a ${category}`);
  });

  test('GIVEN /similar with a text file THEN an ephemeral UNSUPPORTED_IMAGE error', T, async () => {
    const i = h.fake.sendInteraction({
      kind: 'slash',
      name: 'similar',
      user: user(),
      attachments: { image: { filename: 'notes.txt', contentType: 'text/plain', bytes: Buffer.from('not a photo') } },
    });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 4);
    assert.equal(payload(cb).data?.flags, 64, 'ephemeral');
    assert.equal(payload(cb).data?.content, USER_MESSAGES.UNSUPPORTED_IMAGE);
  });

  test('GIVEN /similar with a damaged JPEG THEN the deferred reply is replaced by an ephemeral error', T, async () => {
    const jpeg = h.stack.items.find((it) => it.path.endsWith('.jpg'))!;
    const truncated = (await readFile(jpeg.path)).subarray(0, 300);
    const i = h.fake.sendInteraction({
      kind: 'slash',
      name: 'similar',
      user: user(),
      attachments: { image: { filename: 'broken.jpg', contentType: 'image/jpeg', bytes: truncated } },
    });
    const follow = await h.fake.waitFor(
      (r) => r.method === 'POST' && r.path === `/webhooks/${h.fake.appId}/${i.token}`,
      60_000,
    );
    assert.equal(payload(follow).flags, 64, 'the follow-up is ephemeral');
    assert.equal(payload(follow).content, USER_MESSAGES.IMAGE_DECODE_FAILED);
    const calls = h.fake.requests.filter(ofInteraction(i)).map((r) => `${r.method} ${r.path.split('/').at(-1)}`);
    assert.deepEqual(calls, ['POST callback', 'DELETE @original', `POST ${i.token}`]);
  });

  test('GIVEN the category option is being typed THEN autocomplete offers matching article types', T, async () => {
    const types = h.stack.service.facets().articleTypes;
    const target = types[0]!;
    const prefix = target.slice(0, 2).toLowerCase();
    const i = h.fake.sendInteraction({
      kind: 'autocomplete',
      name: 'similar',
      user: user(),
      options: [{ name: 'category', type: 3, value: prefix, focused: true }],
    });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 8);
    const choices = payload(cb).data?.choices ?? [];
    assert.ok(choices.some((c) => c.value === target));
    const expected = types.filter((t) => t.toLowerCase().includes(prefix));
    assert.deepEqual(new Set(choices.map((c) => c.value)), new Set(expected));
  });
});

describe('scenario 4: "Find similar"', () => {
  test('GIVEN "Find similar" on a message with an image THEN the result replaces the deferred reply', T, async () => {
    const img = await h.image(8);
    const target = h.fake.sendMessage({
      channelId: h.fake.otherChannelId, // unwatched: the post itself gets no answer
      author: user(),
      attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
    });
    const i = h.fake.sendInteraction({ kind: 'messageContext', name: 'Find similar', user: user(), target });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 5);
    const edit = await h.fake.waitFor(
      (r) => r.method === 'PATCH' && r.path.includes(`/${i.token}/messages/@original`),
      60_000,
    );
    assert.equal(edit.files[0]?.filename, COLLAGE_FILENAME);
    assertResultEmbed(payload(edit).embeds?.[0]?.description, 6);
  });

  test('GIVEN "Find similar" on a message without an image THEN an ephemeral NO_IMAGE sentence', T, async () => {
    const target = h.fake.sendMessage({ channelId: h.fake.otherChannelId, author: user(), content: 'just words' });
    const i = h.fake.sendInteraction({ kind: 'messageContext', name: 'Find similar', user: user(), target });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 4);
    assert.equal(payload(cb).data?.flags, 64);
    assert.equal(payload(cb).data?.content, USER_MESSAGES.NO_IMAGE);
  });
});

describe('scenario 6: rate limit', () => {
  test('GIVEN a user over the rate limit (5/min) THEN the reply is the RATE_LIMITED sentence', T, async () => {
    const author = user();
    const img = await h.image(10);
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) {
      const msg = h.fake.sendMessage({
        channelId: h.fake.watchedChannelId,
        author,
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      ids.push(String(msg.id));
      await h.fake.waitFor(
        (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
        60_000,
      );
    }
    const replies = ids.map(
      (id) =>
        h.fake.requests.find(
          (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === id,
        )!,
    );
    for (const r of replies.slice(0, 5)) assert.equal(r.files[0]?.filename, COLLAGE_FILENAME);
    const last = replies[5]!;
    assert.equal(payload(last).content, USER_MESSAGES.RATE_LIMITED);
    assert.equal(last.files.length, 0);
  });
});

describe('scenario 7: platform failures', () => {
  test('GIVEN the gateway drops the connection THEN the bot resumes and answers afterwards', T, async () => {
    const resumesBefore = h.fake.resumeCount;
    h.fake.disconnectGateway({ code: 4000 });
    await h.fake.waitForResume(resumesBefore + 1, 15_000);
    h.fake.disconnectGateway('terminate'); // a network cut (1006)
    await h.fake.waitForResume(resumesBefore + 2, 15_000);
    const img = await h.image(11);
    const msg = h.fake.sendMessage({
      channelId: h.fake.watchedChannelId,
      author: user(),
      attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
    });
    const reply = await h.fake.waitFor(
      (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
      60_000,
    );
    assert.equal(reply.files[0]?.filename, COLLAGE_FILENAME);
    assert.equal(h.fake.identifyCount, 1, 'resumed, not re-identified');
  });

  test('GIVEN Discord answers 429 to the reply THEN discord.js waits and the reply still arrives', T, async () => {
    const ch = h.fake.watchedChannelId;
    h.fake.failWith429(`POST /channels/${ch}/messages`, 1);
    const img = await h.image(12);
    const msg = h.fake.sendMessage({
      channelId: ch,
      author: user(),
      attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
    });
    const reply = await h.fake.waitFor(
      (r) => isMessagePost(ch)(r) && payload(r).message_reference?.message_id === msg.id,
      60_000,
    );
    const limited = h.fake.requests.filter(
      (r) =>
        r.status === 429 &&
        r.path === `/channels/${ch}/messages` &&
        payload(r).message_reference?.message_id === msg.id,
    );
    assert.equal(limited.length, 1);
    assert.ok(reply.at >= limited[0]!.at);
  });

  test(
    'GIVEN the reply fails with 500s THEN the failure is logged with the request id and the bot keeps answering',
    T,
    async () => {
      const ch = h.fake.watchedChannelId;
      h.fake.failWith(500, `POST /channels/${ch}/messages`, 10);
      const img = await h.image(13);
      const lost = h.fake.sendMessage({
        channelId: ch,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      const failed = await h.log.waitFor(
        (e) => e.level === 'error' && e.msg === 'reply failed' && e.obj.messageId === lost.id,
      );
      assert.equal(typeof failed.obj.requestId, 'string', 'the failed reply was logged with its request id');
      const logged = failed.obj.err as { status?: number };
      assert.equal(logged.status, 500);
      assert.ok(JSON.stringify(logged).length < 2000, 'the logged error leaves out the request body (the collage)');
      h.fake.failWith(500, `POST /channels/${ch}/messages`, 0);
      const msg = h.fake.sendMessage({
        channelId: ch,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      await h.fake.waitFor((r) => isMessagePost(ch)(r) && payload(r).message_reference?.message_id === msg.id, 60_000);
    },
  );
});

describe('scenario 5: /reindex', () => {
  test('GIVEN a member without Manage Guild or an admin role THEN /reindex is denied ephemerally', T, async () => {
    const i = h.fake.sendInteraction({ kind: 'slash', name: 'reindex', user: user(), permissions: '1024', roles: [] });
    const cb = await h.fake.waitFor((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    assert.equal(payload(cb).type, 4);
    assert.equal(payload(cb).data?.flags, 64);
    assert.equal(payload(cb).data?.content, USER_MESSAGES.FORBIDDEN);
  });

  test(
    'GIVEN an admin after adding 2 images and deleting 1 THEN progress edits, then a summary of that change',
    T,
    async () => {
      // Two new, different images (another seed), under new names; one existing image removed.
      const extra = await makeTestCatalog(join(TEST_TMP_DIR, `discord-extra-${process.pid}`), { count: 2, seed: 99 });
      const newFiles = (await readdir(extra.imagesDir)).sort();
      assert.equal(newFiles.length, 2);
      for (const f of newFiles) await copyFile(join(extra.imagesDir, f), join(h.stack.imagesDir, `new-${f}`));
      await rm(extra.dir, { recursive: true, force: true });
      const existing = (await readdir(h.stack.imagesDir)).filter((f) => !f.startsWith('new-')).sort();
      await rm(join(h.stack.imagesDir, existing[0]!));

      // Manage Guild via a configured admin role (DISCORD_ADMIN_ROLE_IDS) for the first,
      // the Manage Guild permission for the concurrent second one.
      const admin = user();
      const a = h.fake.sendInteraction({ kind: 'slash', name: 'reindex', user: admin, roles: [h.fake.adminRoleId] });
      const b = h.fake.sendInteraction({ kind: 'slash', name: 'reindex', user: user(), permissions: String(1 << 5) });
      const edits = async (i: { id: string; token: string }) => {
        const isEdit = (r: (typeof h.fake.requests)[number]) =>
          r.method === 'PATCH' && r.path === `/webhooks/${h.fake.appId}/${i.token}/messages/@original`;
        await h.fake.waitFor((r) => isEdit(r) && /Reindex done|already running/.test(payload(r).content ?? ''), 60_000);
        return h.fake.requests.filter(isEdit).map((r) => payload(r).content ?? '');
      };
      const [ea, eb] = await Promise.all([edits(a), edits(b)]);
      for (const i of [a, b]) {
        const cb = h.fake.requests.find((r) => r.path === `/interactions/${i.id}/${i.token}/callback`)!;
        assert.equal(payload(cb).type, 5);
        assert.equal(payload(cb).data?.flags, 64, 'admin replies are ephemeral');
      }
      // Exactly one of the two ran; the other showed the running one's state.
      const winner = [ea, eb].find((e) => e.some((c) => c.startsWith('Reindex done')));
      const loser = [ea, eb].find((e) => e !== winner);
      assert.ok(winner && loser, `one summary and one "already running":\n${JSON.stringify([ea, eb], null, 1)}`);
      assert.ok(loser.at(-1)!.startsWith(USER_MESSAGES.REINDEX_IN_PROGRESS));
      const summary = winner.at(-1)!;
      assert.match(summary, /\b2 added\b/);
      assert.match(summary, /\b0 updated\b/);
      assert.match(summary, /\b1 removed\b/);
      assert.match(summary, /\b0 failed\b/);
      const progress = winner.slice(0, -1);
      assert.ok(progress.length >= 1, 'at least one progress edit before the summary');
      for (const p of progress) assert.match(p, /^Reindexing… .*\d+%/);
      assert.equal(h.stack.service.status().catalogSize, h.stack.items.length + 1);
    },
  );
});

describe('shutdown', () => {
  test(
    'GIVEN an answer in progress WHEN the bot stops THEN the reply is sent before the client logs out',
    T,
    async () => {
      const img = await h.image(14);
      const isTyping = (r: (typeof h.fake.requests)[number]) =>
        r.path === `/channels/${h.fake.watchedChannelId}/typing`;
      const typingBefore = h.fake.requests.filter(isTyping).length;
      const msg = h.fake.sendMessage({
        channelId: h.fake.watchedChannelId,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      // The typing indicator means the handler is running (download and search still ahead).
      await h.fake.waitForCount(isTyping, typingBefore + 1);
      await h.bot.stop();
      const reply = h.fake.requests.find(
        (r) => isMessagePost(h.fake.watchedChannelId)(r) && payload(r).message_reference?.message_id === msg.id,
      );
      assert.ok(reply, 'the in-flight answer was posted before stop() resolved');
      assert.equal(reply.files[0]?.filename, COLLAGE_FILENAME);
      await h.fake.waitForDisconnect();
      assert.equal(h.fake.connected, false, 'the gateway session is closed');
    },
  );
});
