/**
 * Clickable answers and "more like this" on Discord, end to end: the real discord.js client
 * against the loopback fake, the real service, catalog (a small shop: labels with title, link,
 * price) and embedder. The answer lists markdown links with prices, buttons "1"…"6" and an
 * "Open #1" link button; pressing "3" answers with item 3's neighbours (not item 3, none already
 * shown) without a download or an embedding; the chain goes on from the new answer; a press
 * still works after the bot restarted (everything is read back from the message); bad presses
 * get coded private answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { createDiscordBot, type DiscordBot, parseChain } from '@lookalike/discord';
import { type RecordedRequest, snowflake } from '../fakes/discord.js';
import { type ShopFields, writeShopLabels } from '../helpers/shop-labels.js';
import { type Harness, isMessagePost, recordingLogger, startHarness } from './harness.js';

const T = { timeout: 300_000 };
const COUNT = 20;
let h: Harness;
let shop: Map<string, ShopFields>;

interface Button {
  type: number;
  style: number;
  label: string;
  custom_id?: string;
  url?: string;
}
interface Row {
  type: number;
  components: Button[];
}
interface Embed {
  title?: string;
  description?: string;
  footer?: { text: string };
}
/** An answer as the bot wrote it, and as a press sends it back in `message`. */
interface Posted {
  id: string;
  content: string;
  embeds: Embed[];
  components: Row[];
}

before(async () => {
  h = await startHarness({ stack: { catalogSize: COUNT, reindex: false } });
  shop = await writeShopLabels(h.stack.labelsPath, h.stack.items);
  await h.stack.catalog.reindex();
}, T);

after(async () => {
  await h?.close();
});

const user = () => ({ id: snowflake(), username: 'shopper' });
const body = (r: RecordedRequest) => (r.json ?? {}) as { content?: string; embeds?: Embed[]; components?: Row[] };
const isCallback = (i: { id: string; token: string }) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/interactions/${i.id}/${i.token}/callback`;
const isOriginalEdit = (i: { token: string }) => (r: RecordedRequest) =>
  r.method === 'PATCH' && r.path === `/webhooks/${h.fake.appId}/${i.token}/messages/@original`;
const callback = (r: RecordedRequest) =>
  (r.json ?? {}) as { type?: number; data?: { flags?: number; content?: string } };

/** What a recorded reply or edit posted, with the id the fake gave the message. */
function posted(r: RecordedRequest): Posted {
  const b = body(r);
  const id = String((r.response as { id?: string } | undefined)?.id ?? snowflake());
  return { id, content: b.content ?? '', embeds: b.embeds ?? [], components: b.components ?? [] };
}

const idsOf = (p: Posted) => parseChain(p.embeds[0]?.footer?.text).ids;
const buttonsOf = (p: Posted) => p.components.flatMap((row) => row.components);

/** Presses `customId` on `message` and waits for the edit of the deferred reply (the new answer). */
async function press(
  customId: string,
  message: Posted,
  who = user(),
): Promise<{ cb: RecordedRequest; answer: Posted }> {
  const i = h.fake.pressButton({ customId, message: { ...message, flags: 0 }, user: who });
  const cb = await h.fake.waitFor(isCallback(i), 60_000);
  assert.equal(callback(cb).type, 5, 'deferred at once (a public "thinking…" reply)');
  const edit = await h.fake.waitFor(isOriginalEdit(i), 60_000);
  return { cb, answer: posted(edit) };
}

/** The nearest items to `itemId` by its stored vector, without `shown` (what "more like this" should answer). */
function neighbours(itemId: string, shown: readonly string[], k: number): string[] {
  const v = h.stack.catalog.vectorOf(itemId);
  assert.ok(v, `${itemId} has a stored vector`);
  return h.stack.catalog
    .search(v, { k: COUNT, excludeDuplicates: false })
    .map((r) => r.id)
    .filter((id) => id !== itemId && !shown.includes(id))
    .slice(0, k);
}

let first: Posted;

describe('clickable answers', () => {
  test(
    'GIVEN a photo THEN the answer lists linked titles with prices, buttons 1…6 and an Open #1 link button',
    T,
    async () => {
      const img = await h.image(2);
      const msg = h.fake.sendMessage({
        channelId: h.fake.watchedChannelId,
        author: user(),
        attachments: [{ filename: img.filename, contentType: img.contentType, bytes: img.bytes }],
      });
      const reply = await h.fake.waitFor(
        (r) =>
          isMessagePost(h.fake.watchedChannelId)(r) &&
          (r.json as { message_reference?: { message_id: string } })?.message_reference?.message_id === msg.id,
        60_000,
      );
      first = posted(reply);
      const ids = idsOf(first);
      assert.equal(ids.length, 6);
      const lines = (first.embeds[0]?.description ?? '').split('\n');
      assert.equal(lines.length, 6);
      lines.forEach((line, i) => {
        const f = shop.get(ids[i]!)!;
        const m = /^(\d+)\. \[(.+)\]\((https:\/\/[^)\s]+)\) — (.+) — (\d+\.\d\d EUR) — \d{1,3}(?:\.\d)?%$/.exec(line);
        assert.ok(m, `a linked result line with its price: ${line}`);
        assert.equal(Number(m[1]), i + 1);
        assert.equal(m[2]!.replace(/\\(.)/g, '$1'), f.title);
        assert.equal(m[3], f.link);
        assert.equal(m[5], f.price);
      });
      const buttons = buttonsOf(first);
      assert.deepEqual(
        buttons.slice(0, 6).map((b) => [b.type, b.style, b.label, b.custom_id]),
        [1, 2, 3, 4, 5, 6].map((n) => [2, 2, String(n), `more:${n}`]),
      );
      const open = buttons[6]!;
      assert.deepEqual(
        [open.type, open.style, open.label, open.url, open.custom_id],
        [2, 5, 'Open #1', shop.get(ids[0]!)!.link, undefined],
      );
      assert.equal(buttons.length, 7);
      assert.ok(first.components.every((row) => row.type === 1 && row.components.length <= 5));
      for (const b of buttons) if (b.custom_id !== undefined) assert.ok(b.custom_id.length <= 100);
    },
  );
});

describe('more like this', () => {
  let second: Posted;

  test(
    'GIVEN button 3 is pressed THEN item 3’s neighbours answer (not item 3, none shown), with no download and no embedding',
    T,
    async () => {
      const shown = idsOf(first);
      const item3 = shown[2]!;
      const downloads = h.fake.fileDownloads;
      const embedded = h.stack.embedder.stats.images;
      const { answer } = await press('more:3', first);
      second = answer;
      assert.equal(h.fake.fileDownloads, downloads, 'nothing was downloaded');
      assert.equal(h.stack.embedder.stats.images, embedded, 'nothing was embedded');
      const ids = idsOf(second);
      assert.equal(ids.length, 6);
      assert.ok(!ids.includes(item3), 'not item 3 itself');
      for (const id of ids) assert.ok(!shown.includes(id), `${id} was already shown`);
      assert.deepEqual(ids, neighbours(item3, shown, 6));
      assert.equal(second.embeds[0]?.title, '6 more like this');
      assert.deepEqual(new Set(parseChain(second.embeds[0]?.footer?.text).seen), new Set(shown));
      // The new answer has its own buttons and link.
      assert.equal(buttonsOf(second).filter((b) => b.custom_id?.startsWith('more:')).length, 6);
      assert.match(second.embeds[0]?.description ?? '', /^1\. \[.+\]\(https:\/\/shop\.example\/p\//);
    },
  );

  test('GIVEN a press on the second answer THEN nothing shown in the chain comes back', T, async () => {
    const shown = [...idsOf(first), ...idsOf(second)];
    const { answer } = await press('more:1', second);
    const ids = idsOf(answer);
    assert.ok(ids.length > 0 && ids.length <= COUNT - shown.length);
    for (const id of ids) assert.ok(!shown.includes(id), `${id} was shown earlier in the chain`);
    assert.deepEqual(ids, neighbours(idsOf(second)[0]!, shown, 6));
  });
});

describe('bad presses', () => {
  const isFollowUp = (i: { token: string }) => (r: RecordedRequest) =>
    r.method === 'POST' && r.path === `/webhooks/${h.fake.appId}/${i.token}`;

  /** Presses and expects an immediate private BAD_REQUEST answer (type 4, ephemeral). */
  async function refused(customId: string, message: Posted): Promise<void> {
    const i = h.fake.pressButton({ customId, message: { ...message, flags: 0 }, user: user() });
    const cb = await h.fake.waitFor(isCallback(i), 60_000);
    assert.equal(callback(cb).type, 4);
    assert.equal(callback(cb).data?.flags, 64);
    assert.equal(callback(cb).data?.content, USER_MESSAGES.BAD_REQUEST);
  }

  test('GIVEN a button beyond the results THEN BAD_REQUEST, privately', T, async () => {
    await refused('more:9', first);
  });

  test('GIVEN a message without the chain, or a malformed chain THEN BAD_REQUEST, privately', T, async () => {
    await refused('more:1', { ...first, embeds: [] });
    await refused('more:1', { ...first, embeds: [{ footer: { text: 'ResNet50 · request x' } }] });
    await refused('more:1', { ...first, embeds: [{ footer: { text: 'x\nids: %E0%A4%A' } }] });
    await refused('more:1', { ...first, embeds: [{ footer: { text: 'x\nids: a · filters: =b' } }] });
  });

  test(
    'GIVEN a chain naming an item no longer in the catalog THEN ITEM_NOT_FOUND replaces the deferred reply privately',
    T,
    async () => {
      const message = { ...first, embeds: [{ footer: { text: 'old answer\nids: gone-item other-item' } }] };
      const i = h.fake.pressButton({ customId: 'more:1', message: { ...message, flags: 0 }, user: user() });
      const cb = await h.fake.waitFor(isCallback(i), 60_000);
      assert.equal(callback(cb).type, 5);
      const follow = await h.fake.waitFor(isFollowUp(i), 60_000);
      assert.equal(body(follow).content, USER_MESSAGES.ITEM_NOT_FOUND);
      assert.equal((follow.json as { flags?: number }).flags, 64);
      await h.fake.waitFor(
        (r) => r.method === 'DELETE' && r.path === `/webhooks/${h.fake.appId}/${i.token}/messages/@original`,
      );
    },
  );
});

describe('restart', () => {
  test('GIVEN the bot restarted THEN a press on an answer from before still works', T, async () => {
    await h.bot.stop();
    const log = recordingLogger();
    const bot: DiscordBot = createDiscordBot({
      service: h.stack.service,
      token: h.fake.token,
      appId: h.fake.appId,
      watchChannels: [h.fake.watchedChannelId],
      adminRoleIds: [h.fake.adminRoleId],
      apiBase: h.fake.apiBase,
      logger: log,
      clientOptions: { waitGuildTimeout: 2000 },
    });
    try {
      await bot.start();
      const shown = idsOf(first);
      const { answer } = await press('more:2', first);
      const ids = idsOf(answer);
      assert.deepEqual(ids, neighbours(shown[1]!, shown, 6));
      // Answered by the new client (its log), after the answer was written.
      await log.waitFor((e) => e.msg === 'answered more like this', 30_000);
    } finally {
      await bot.stop();
    }
  });
});
