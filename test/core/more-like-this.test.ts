/**
 * "More like this" in the service, on the real stack (untrained ResNet50 on ONNX Runtime, SQLite +
 * FAISS, sharp collages) over a small shop catalog whose labels carry title, link, price, brand
 * and availability: the item's stored vector answers (no download, no embedding), the item itself
 * and the excluded chain are left out, filters are kept, out-of-stock items are hidden, results
 * carry the product fields, and bad requests get their codes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  type AnswerStage,
  itemLink,
  itemPrice,
  itemTitle,
  LookalikeError,
  MAX_EXCLUDE,
  type ServiceObserver,
  type Surface,
} from '@lookalike/core';
import { type ShopFields, writeShopLabels } from '../helpers/shop-labels.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

const T = { timeout: 300_000 };
const COUNT = 16;
/** Hidden by default: out of stock. */
const OUT_OF_STOCK = 4;
/** A link that must never be shown. */
const SCRIPT_LINK = 5;

let stack: TestStack;
let shop: Map<string, ShopFields>;
const stages = new Map<AnswerStage, number>();
const requests: { surface: Surface; outcome: string }[] = [];
const observer: ServiceObserver = {
  request: (surface, outcome) => requests.push({ surface, outcome }),
  stage: (stage) => stages.set(stage, (stages.get(stage) ?? 0) + 1),
};

before(async () => {
  stack = await createTestStack({ catalogSize: COUNT, reindex: false, service: { observer } });
  shop = await writeShopLabels(stack.labelsPath, stack.items, (item, i) => ({
    title: `Shop ${item.productDisplayName}`,
    link: i === SCRIPT_LINK ? 'javascript:alert(1)' : `https://shop.example/p/${item.id}`,
    price: `${(19.9 + i).toFixed(2)} EUR`,
    brand: i % 2 === 0 ? 'Acme' : 'Zenith',
    availability: i === OUT_OF_STOCK ? 'out_of_stock' : 'in_stock',
  }));
  await stack.catalog.reindex();
}, T);

after(async () => {
  await stack?.close();
});

const id = (i: number) => stack.items[i]!.id;
const code = (err: unknown) => (err instanceof LookalikeError ? err.code : String(err));

describe('moreLikeThis', () => {
  test(
    'GIVEN a catalog item THEN its nearest neighbours answer, without the item, with no download and no embedding',
    T,
    async () => {
      const source = id(2);
      const embedded = stack.embedder.stats.images;
      const downloads = stages.get('download') ?? 0;
      const embeds = stages.get('embed') ?? 0;
      const answer = await stack.service.moreLikeThis(source, { userId: 't:1', k: 6 });
      assert.equal(stack.embedder.stats.images, embedded, 'nothing was embedded');
      assert.equal(stages.get('embed') ?? 0, embeds, 'no embed stage');
      assert.equal(stages.get('download') ?? 0, downloads, 'no download stage');
      assert.equal(answer.results.length, 6);
      const ids = answer.results.map((r) => r.id);
      assert.ok(!ids.includes(source), 'not the item itself');
      assert.ok(!ids.includes(id(OUT_OF_STOCK)), 'out of stock hidden');
      assert.equal(answer.sourceItemId, source);
      assert.deepEqual(answer.excluded, [source]);
      assert.deepEqual(
        answer.results.map((r) => r.rank),
        [1, 2, 3, 4, 5, 6],
      );
      // The same neighbours as a search with the item's stored vector.
      const vector = stack.catalog.vectorOf(source)!;
      const expected = stack.catalog
        .search(vector, { k: COUNT, excludeDuplicates: false })
        .map((r) => r.id)
        .filter((x) => x !== source && x !== id(OUT_OF_STOCK))
        .slice(0, 6);
      assert.deepEqual(ids, expected);
      // A collage came with it.
      assert.ok(answer.collage.length > 1000 && answer.collage[0] === 0xff && answer.collage[1] === 0xd8);
      assert.ok(answer.notices.some((n) => n.code === 'UNTRAINED'));
    },
  );

  test('GIVEN shop labels THEN every result carries title, link, price, brand and availability', T, async () => {
    const answer = await stack.service.moreLikeThis(id(0), { userId: 't:2', k: 10 });
    for (const r of answer.results) {
      const f = shop.get(r.id)!;
      assert.equal(r.metadata.title, f.title);
      assert.equal(itemTitle(r), f.title);
      assert.equal(r.metadata.price, f.price);
      assert.equal(itemPrice(r), f.price);
      assert.equal(r.metadata.brand, f.brand);
      assert.equal(r.metadata.availability, 'in_stock');
      if (r.id === id(SCRIPT_LINK)) assert.equal(itemLink(r), undefined, 'a javascript: link is never a link');
      else assert.equal(itemLink(r), f.link);
    }
  });

  test(
    'GIVEN a chain and filters THEN excluded ids never come back and every result matches the filters',
    T,
    async () => {
      const first = await stack.service.moreLikeThis(id(1), { userId: 't:3', k: 3 });
      const shown = [id(1), ...first.results.map((r) => r.id)];
      const next = await stack.service.moreLikeThis(first.results[2]!.id, {
        userId: 't:3',
        k: 3,
        exclude: shown,
      });
      for (const r of next.results) assert.ok(!shown.includes(r.id), `${r.id} was shown before`);
      assert.equal(next.results.length, 3);
      assert.deepEqual(new Set(next.excluded), new Set([first.results[2]!.id, ...shown]));

      const type = stack.items[1]!.articleType;
      const filtered = await stack.service.moreLikeThis(id(1), {
        userId: 't:3',
        k: 10,
        filters: { articleType: type },
      });
      assert.ok(filtered.results.length >= 1);
      for (const r of filtered.results) assert.equal(r.metadata.articleType, type);
      assert.deepEqual(filtered.filters, { articleType: type });
    },
  );

  test('GIVEN includeOutOfStock THEN the catalog search shows the out-of-stock item again', () => {
    const v = stack.catalog.vectorOf(id(OUT_OF_STOCK))!;
    const hidden = stack.catalog.search(v, { k: COUNT, excludeDuplicates: false }).map((r) => r.id);
    assert.ok(!hidden.includes(id(OUT_OF_STOCK)));
    const shown = stack.catalog
      .search(v, { k: COUNT, excludeDuplicates: false, includeOutOfStock: true })
      .map((r) => r.id);
    assert.equal(shown[0], id(OUT_OF_STOCK));
    assert.equal(shown.length, COUNT);
  });

  test('GIVEN an id no longer in the catalog THEN ITEM_NOT_FOUND with its sentence', async () => {
    await assert.rejects(stack.service.moreLikeThis('no-such-item', { userId: 't:4' }), (err: unknown) => {
      assert.equal(code(err), 'ITEM_NOT_FOUND');
      assert.match((err as LookalikeError).userMessage, /no longer in the catalog/);
      return true;
    });
  });

  test('GIVEN malformed requests THEN BAD_REQUEST, and nothing is searched', async () => {
    const bad: [string, unknown, Record<string, unknown>][] = [
      ['empty id', '', {}],
      ['overlong id', 'x'.repeat(600), {}],
      ['id not a string', 42, {}],
      ['exclude not a list', id(0), { exclude: 'a,b' }],
      ['exclude with a number', id(0), { exclude: ['a', 7] }],
      ['exclude too long', id(0), { exclude: Array.from({ length: MAX_EXCLUDE + 1 }, (_, i) => `x${i}`) }],
      ['filters not an object', id(0), { filters: ['gender'] }],
      ['filter value not a string', id(0), { filters: { gender: 1 } }],
    ];
    const searches = stages.get('search') ?? 0;
    for (const [what, itemId, extra] of bad) {
      await assert.rejects(
        stack.service.moreLikeThis(itemId as string, { userId: 't:5', ...extra } as never),
        (err: unknown) => code(err) === 'BAD_REQUEST',
        what,
      );
    }
    assert.equal(stages.get('search') ?? 0, searches, 'refused before any search');
    assert.ok(requests.filter((r) => r.outcome === 'BAD_REQUEST').length >= bad.length);
  });

  test('GIVEN a rate limit of 1 per minute THEN a second press is RATE_LIMITED', async () => {
    const limited = stack.serviceWith({ ratePerMinute: 1 });
    try {
      await limited.moreLikeThis(id(0), { userId: 'discord:42', surface: 'discord' });
      await assert.rejects(
        limited.moreLikeThis(id(0), { userId: 'discord:42', surface: 'discord' }),
        (err: unknown) => {
          return code(err) === 'RATE_LIMITED';
        },
      );
    } finally {
      await limited.close();
    }
  });

  test('GIVEN a photo THEN findSimilar answers with its filters recorded for the next press', T, async () => {
    const bytes = await readFile(stack.items[3]!.path);
    const answer = await stack.service.findSimilar(bytes, {
      userId: 't:6',
      filters: { gender: stack.items[3]!.gender },
    });
    assert.deepEqual(answer.filters, { gender: stack.items[3]!.gender });
    assert.equal(answer.excluded, undefined);
    assert.equal(answer.sourceItemId, undefined);
  });
});
