/**
 * Clickable answers and "More like this" on Slack, end to end: the real Bolt App behind the HTTP
 * server, signed requests, the loopback fake Web API, the real service, catalog (a small shop:
 * labels with title, link, price, brand) and embedder. Each result is a section with its title
 * linked, price and brand, and "More like this" / "Open" buttons; pressing result 3's button is
 * acked and answered in the same thread with item 3's neighbours (not item 3, none shown before)
 * without a download or an embedding; a press works on a restarted bot (the value carries the
 * chain); bad values and gone items get private coded answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { BUTTON_VALUE_MAX, escapeMrkdwn, MORE_ACTIONS, moreButtonValue, parseMoreButtonValue } from '@lookalike/slack';
import type { RecordedCall } from '../fakes/slack.js';
import { type ShopFields, writeShopLabels } from '../helpers/shop-labels.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { fileShareEvent, type SlackHarness, startSlackHarness } from './harness.js';

const T = { timeout: 300_000 };
const CHANNEL = 'C0SHOP';
const COUNT = 20;

let stack: TestStack;
let shop: Map<string, ShopFields>;
let h: SlackHarness;

before(async () => {
  stack = await createTestStack({ catalogSize: COUNT, reindex: false });
  shop = await writeShopLabels(stack.labelsPath, stack.items);
  await stack.catalog.reindex();
  h = await startSlackHarness({ stack });
}, T);

after(async () => {
  await h?.close();
  await stack?.close();
});

interface Button {
  type: string;
  action_id: string;
  text: { text: string };
  value?: string;
  url?: string;
}
interface Block {
  type: string;
  block_id?: string;
  text?: { text: string };
  elements?: Button[];
}
/** A posted result list: its ts, thread and blocks. */
interface List {
  ts: string;
  threadTs: string | undefined;
  blocks: Block[];
}

const since = (from: number, pick: (c: RecordedCall) => boolean) => (calls: RecordedCall[]) =>
  calls.slice(from).find(pick);

/** The next result list (a chat.postMessage with blocks) in the thread, from call `from` on. */
async function nextList(harness: SlackHarness, from: number, threadTs: string): Promise<List> {
  const call = await harness.fake.waitFor(
    since(
      from,
      (c) => c.method === 'chat.postMessage' && Array.isArray(c.args.blocks) && c.args.thread_ts === threadTs,
    ),
    60_000,
  );
  return {
    ts: String((call.response as { ts?: string }).ts),
    threadTs: call.args.thread_ts as string | undefined,
    blocks: call.args.blocks as Block[],
  };
}

const moreButton = (list: List, rank: number) =>
  list.blocks.find((b) => b.block_id === `result_${rank}`)?.elements?.find((e) => e.action_id === MORE_ACTIONS.more);
/** The result ids of a list, by rank (from the buttons' values). */
const idsOf = (list: List) =>
  list.blocks
    .filter((b) => b.type === 'actions' && b.block_id?.startsWith('result_'))
    .map((b) => JSON.parse(b.elements?.find((e) => e.action_id === MORE_ACTIONS.more)?.value ?? '{}').itemId as string);

/** Presses a "More like this" button on `list` as `user`; the index of the first call after the press. */
async function press(harness: SlackHarness, list: List, value: string | undefined, user = 'U1'): Promise<number> {
  const from = harness.fake.calls.length;
  const payload = harness.signer.blockActionsPayload({
    user,
    channel: CHANNEL,
    messageTs: list.ts,
    ...(list.threadTs === undefined ? {} : { threadTs: list.threadTs }),
    actionId: MORE_ACTIONS.more,
    ...(value === undefined ? {} : { value }),
    blockId: 'result_3',
  });
  const res = await harness.signer.postAction(payload);
  assert.equal(res.status, 200, 'the press is acked');
  return from;
}

function neighbours(itemId: string, shown: readonly string[], k: number): string[] {
  const v = stack.catalog.vectorOf(itemId);
  assert.ok(v);
  return stack.catalog
    .search(v, { k: COUNT, excludeDuplicates: false })
    .map((r) => r.id)
    .filter((id) => id !== itemId && !shown.includes(id))
    .slice(0, k);
}

let share: { ts: string };
let first: List;

describe('clickable answers', () => {
  test(
    'GIVEN a shared photo THEN each result has its title linked, price and brand, and More like this / Open buttons',
    T,
    async () => {
      const from = h.fake.calls.length;
      const file = h.fake.addFile({ name: 'look.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U1' });
      share = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U1', files: [file] });
      assert.equal((await h.signer.postEvent(share)).status, 200);
      first = await nextList(h, from, share.ts);
      const ids = idsOf(first);
      assert.equal(ids.length, 6);
      ids.forEach((id, i) => {
        const f = shop.get(id)!;
        const section = first.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith(`*${i + 1}. `));
        assert.ok(section, `a section for result ${i + 1}`);
        const text = section.text!.text;
        assert.ok(
          text.startsWith(`*${i + 1}. <${f.link}|${escapeMrkdwn(f.title)}>*\n*${f.price}* · ${f.brand} · `),
          text,
        );
        assert.match(text, /similarity \d{1,3}(\.\d)?%$/);
        const actions = first.blocks.find((b) => b.block_id === `result_${i + 1}`)!;
        const [more, open] = actions.elements!;
        assert.equal(more?.text.text, 'More like this');
        const value = JSON.parse(more!.value!) as { itemId: string; exclude: string[]; filters?: unknown };
        assert.equal(value.itemId, id);
        assert.deepEqual(new Set(value.exclude), new Set(ids.filter((x) => x !== id)));
        assert.ok(more!.value!.length <= BUTTON_VALUE_MAX);
        assert.deepEqual([open?.action_id, open?.text.text, open?.url], [MORE_ACTIONS.open, 'Open', f.link]);
      });
    },
  );

  test('GIVEN Open is pressed THEN the press is acked and nothing is posted', T, async () => {
    const open = first.blocks.find((b) => b.block_id === 'result_1')!.elements![1]!;
    const payload = h.signer.blockActionsPayload({
      user: 'U1',
      channel: CHANNEL,
      messageTs: first.ts,
      actionId: MORE_ACTIONS.open,
      blockId: 'result_1',
    });
    (payload.actions as Record<string, unknown>[])[0]!.url = open.url;
    const res = await h.signer.postAction(payload);
    assert.equal(res.status, 200);
  });
});

describe('more like this', () => {
  let second: List;

  test(
    'GIVEN result 3’s button is pressed THEN its neighbours answer in the same thread, with no download and no embedding',
    T,
    async () => {
      const shown = idsOf(first);
      const item3 = shown[2]!;
      const downloads = h.fake.callsTo('download').length;
      const embedded = stack.embedder.stats.images;
      const from = await press(h, first, moreButton(first, 3)?.value);
      second = await nextList(h, from, share.ts);
      assert.equal(h.fake.callsTo('download').length, downloads, 'nothing was downloaded');
      assert.equal(stack.embedder.stats.images, embedded, 'nothing was embedded');
      const ids = idsOf(second);
      assert.equal(ids.length, 6);
      assert.ok(!ids.includes(item3), 'not item 3 itself');
      for (const id of ids) assert.ok(!shown.includes(id), `${id} was already shown`);
      assert.deepEqual(ids, neighbours(item3, shown, 6));
      assert.match(second.blocks[0]?.text?.text ?? '', /More like this/);
      // The collage went to the same thread.
      const upload = since(from, (c) => c.method === 'files.completeUploadExternal')(h.fake.calls);
      assert.equal(upload?.args.thread_ts, share.ts);
    },
  );

  test('GIVEN a press on the new answer THEN nothing shown in the chain comes back', T, async () => {
    const shown = [...idsOf(first), ...idsOf(second)];
    const from = await press(h, second, moreButton(second, 1)?.value);
    const third = await nextList(h, from, share.ts);
    const ids = idsOf(third);
    assert.ok(ids.length > 0);
    for (const id of ids) assert.ok(!shown.includes(id), `${id} was shown earlier in the chain`);
    assert.deepEqual(ids, neighbours(idsOf(second)[0]!, shown, 6));
  });

  test('GIVEN malformed values THEN the presser is told privately (BAD_REQUEST) and nothing is posted', T, async () => {
    for (const value of [undefined, 'not json', '[1,2]', '{"itemId":7}', '{"itemId":"a","exclude":"b"}']) {
      const from = await press(h, first, value);
      const answer = await h.fake.waitFor(
        since(from, (c) => c.method === 'response_url'),
        60_000,
      );
      assert.equal(answer.args.text, USER_MESSAGES.BAD_REQUEST, String(value));
      assert.equal(answer.args.response_type, 'ephemeral');
      assert.equal(answer.args.replace_original, false);
      assert.ok(!h.fake.calls.slice(from).some((c) => c.method === 'chat.postMessage'));
    }
  });

  test('GIVEN an item no longer in the catalog THEN ITEM_NOT_FOUND, privately', T, async () => {
    const from = await press(h, first, JSON.stringify({ itemId: 'gone-item', exclude: [] }));
    const answer = await h.fake.waitFor(
      since(from, (c) => c.method === 'response_url'),
      60_000,
    );
    assert.equal(answer.args.text, USER_MESSAGES.ITEM_NOT_FOUND);
  });
});

describe('restart', () => {
  test('GIVEN a new bot process THEN a press on an answer of the old one still works', T, async () => {
    const value = moreButton(first, 2)?.value;
    const shown = idsOf(first);
    await h.close();
    h = await startSlackHarness({ stack });
    const from = await press(h, first, value);
    const list = await nextList(h, from, share.ts);
    assert.deepEqual(idsOf(list), neighbours(shown[1]!, shown, 6));
  });
});

describe('button values', () => {
  test('GIVEN a long chain THEN the value stays within 2000 characters, the newest ids kept; an id too long gets no button', () => {
    const chain = Array.from({ length: 400 }, (_, i) => `item-${String(i).padStart(5, '0')}`);
    const value = moreButtonValue('item-00399', chain, { gender: 'Men' });
    assert.ok(value !== undefined && value.length <= BUTTON_VALUE_MAX, `${value?.length}`);
    const back = parseMoreButtonValue(value);
    assert.equal(back.itemId, 'item-00399');
    assert.deepEqual(back.filters, { gender: 'Men' });
    const kept = back.exclude.slice(1);
    assert.ok(kept.length > 50 && kept.length < 399);
    assert.deepEqual(kept, chain.slice(0, 399).slice(-kept.length), 'the newest ids are kept');
    assert.equal(moreButtonValue('x'.repeat(BUTTON_VALUE_MAX), [], undefined), undefined);
  });

  test('GIVEN malformed values THEN parseMoreButtonValue throws BAD_REQUEST', () => {
    for (const v of [undefined, '', 'x', 'null', '"a"', '{"itemId":""}', '{"itemId":"a","filters":{"g":1}}']) {
      assert.throws(
        () => parseMoreButtonValue(v),
        (err: unknown) => (err as { code?: string }).code === 'BAD_REQUEST',
        v,
      );
    }
  });
});
