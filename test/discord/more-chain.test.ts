/**
 * The "more like this" chain Discord answers carry in their embed footer (pure functions): it
 * round-trips any item id and filter, stays within Discord's footer limit by dropping the oldest
 * seen ids, and a malformed line is a BAD_REQUEST. The answer's rendering: linked lines with
 * prices (only http/https links), buttons 1…N and the Open #1 link button.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, LookalikeError, type SimilarItem } from '@lookalike/core';
import {
  chainFooter,
  chainLine,
  chainOf,
  FOOTER_MAX,
  moreButtonId,
  parseChain,
  parseMoreButtonId,
  renderAnswer,
  resultMarkdown,
} from '@lookalike/discord';

const item = (rank: number, id: string, metadata: SimilarItem['metadata'] = {}): SimilarItem => ({
  rank,
  id,
  path: `/c/${id}.jpg`,
  distance: 0.2,
  similarity: 0.9,
  metadata,
});

function answer(results: SimilarItem[], extra: Partial<Answer> = {}): Answer {
  return {
    requestId: 'r1',
    results,
    weights: { source: 'untrained', md5: 'x', untrained: true, description: 'ResNet50 UNTRAINED' },
    noCloseMatch: false,
    notices: [],
    collage: Buffer.from([0xff, 0xd8, 0xff]),
    images: async () => [],
    ...extra,
  };
}

const isBadRequest = (err: unknown) => err instanceof LookalikeError && err.code === 'BAD_REQUEST';

test('GIVEN ids with spaces, dots, pipes and unicode THEN the chain line round-trips them and the filters', () => {
  const chain = {
    ids: ['10003', 'shop item/1', 'a·b', 'é|x', 'ids:', 'ids'],
    seen: ['seen:', 'filters:', '%41'],
    filters: { 'article Type': 'T-shirts & tops', gender: 'Women=yes' },
  };
  const line = chainLine(chain);
  assert.ok(!line.includes('\n'));
  assert.deepEqual(parseChain(`ResNet50 · request r1\n${line}`), chain);
  assert.equal(chainLine({ ids: ['1', '2'], seen: [], filters: {} }), 'ids: 1 2');
  assert.equal(
    chainLine({ ids: ['1'], seen: ['0'], filters: { gender: 'Men' } }),
    'ids: 1 · seen: 0 · filters: gender=Men',
  );
});

test('GIVEN a long chain THEN the footer stays within 2048 characters, dropping the oldest seen ids first', () => {
  const seen = Array.from({ length: 400 }, (_, i) => `item-${String(i).padStart(5, '0')}`);
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const footer = chainFooter('ResNet50 · request r1', { ids, seen, filters: {} });
  assert.ok(footer !== undefined && footer.length <= FOOTER_MAX, `${footer?.length}`);
  const back = parseChain(footer);
  assert.deepEqual(back.ids, ids);
  assert.ok(back.seen.length > 50 && back.seen.length < seen.length);
  assert.deepEqual(back.seen, seen.slice(-back.seen.length), 'the newest are kept');
  // Ids that cannot fit even alone: no chain (and so no buttons).
  assert.equal(chainFooter('x', { ids: ['y'.repeat(2100)], seen: [], filters: {} }), undefined);
});

test('GIVEN malformed footers THEN BAD_REQUEST', () => {
  for (const text of [
    undefined,
    null,
    '',
    'ResNet50 · request r1',
    'ids:',
    'ids 1 2',
    'x\nids: %E0%A4%A',
    'ids: a · filters: =v',
  ]) {
    assert.throws(() => parseChain(text), isBadRequest, String(text));
  }
  assert.throws(() => parseChain(`ids: ${Array.from({ length: 11 }, (_, i) => i).join(' ')}`), isBadRequest);
});

test('GIVEN button custom_ids THEN only more:1…more:10 are "more like this"', () => {
  assert.equal(moreButtonId(3), 'more:3');
  assert.equal(parseMoreButtonId('more:3'), 3);
  for (const bad of ['more:0', 'more:11', 'more:x', 'more:3:1', 'reindex:confirm:1', 'more:', '']) {
    assert.equal(parseMoreButtonId(bad), undefined, bad);
  }
});

test('GIVEN an answer of a chain THEN chainOf keeps its results as ids and what it excluded as seen', () => {
  const a = answer([item(1, 'x'), item(2, 'y')], { excluded: ['s', 'a', 'b', 's'], filters: { gender: 'Men' } });
  assert.deepEqual(chainOf(a), { ids: ['x', 'y'], seen: ['s', 'a', 'b'], filters: { gender: 'Men' } });
});

test('GIVEN shop items THEN lines are markdown links with prices; other schemes and folder items keep the plain line', () => {
  const shopItem = item(1, 'p1', {
    title: 'Linen [shirt] (blue)',
    link: 'https://shop.example/p/1?colour=(blue) x',
    price: '49.90 EUR',
    brand: 'Acme',
  });
  assert.equal(
    resultMarkdown(shopItem),
    '1. [Linen \\[shirt\\] \\(blue\\)](https://shop.example/p/1?colour=%28blue%29%20x) — Acme — 49.90 EUR — 90%',
  );
  const scripted = item(2, 'p2', { title: 'Evil', link: 'javascript:alert(1)', price: '1.00 EUR' });
  assert.equal(resultMarkdown(scripted), '2. Evil — 1.00 EUR — 90%');
  const folder = item(3, '10017', { productDisplayName: 'Navy Shirt', articleType: 'Shirts', baseColour: 'Navy Blue' });
  assert.equal(resultMarkdown(folder), '3. Navy Shirt — Shirts · Navy Blue — 90%');
});

test('GIVEN an answer THEN buttons 1…N (five to a row) and Open #1 follow it; none without results', () => {
  const results = Array.from({ length: 6 }, (_, i) =>
    item(i + 1, `p${i + 1}`, { title: `P${i + 1}`, link: `https://shop.example/p/${i + 1}` }),
  );
  const body = renderAnswer(answer(results));
  const rows = JSON.parse(JSON.stringify(body.components)) as {
    components: { style: number; label: string; custom_id?: string; url?: string }[];
  }[];
  assert.deepEqual(
    rows.map((r) => r.components.map((b) => b.custom_id ?? b.url)),
    [
      ['more:1', 'more:2', 'more:3', 'more:4', 'more:5'],
      ['more:6', 'https://shop.example/p/1'],
    ],
  );
  assert.equal(rows[1]?.components[1]?.label, 'Open #1');
  assert.equal(rows[1]?.components[1]?.style, 5);
  const footer = (JSON.parse(JSON.stringify(body.embeds[0])) as { footer: { text: string } }).footer.text;
  assert.deepEqual(parseChain(footer).ids, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  assert.equal(renderAnswer(answer([])).components, undefined);
  // A folder catalog: the numbered buttons, no link button.
  const plain = renderAnswer(answer([item(1, '10001', { productDisplayName: 'Tee' })]));
  const only = JSON.parse(JSON.stringify(plain.components)) as { components: { custom_id?: string }[] }[];
  assert.deepEqual(
    only.flatMap((r) => r.components.map((b) => b.custom_id)),
    ['more:1'],
  );
});
