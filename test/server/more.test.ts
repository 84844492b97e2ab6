/**
 * Clickable answers and "More like this" on the local page, on the real stack over a small shop
 * catalog (labels with title, link, price, brand): /api/similar's results carry link (http/https
 * only), price and brand; POST /api/more answers with the item's neighbours (not the item, none
 * of the chain) in the same JSON, without an embedding; bad bodies get coded errors; and in
 * headless Chromium the cards link to the product (noopener noreferrer), show the price, and
 * their "More like this" button shows the next answer.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { MAX_EXCLUDE, USER_MESSAGES } from '@lookalike/core';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { type Browser, chromium } from 'playwright-core';
import { type ShopFields, writeShopLabels } from '../helpers/shop-labels.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

const T = { timeout: 300_000 };
const COUNT = 20;
/** Its link is `javascript:`: never a link. */
const SCRIPT_LINK = 7;

interface ResultJson {
  rank: number;
  id: string;
  name: string;
  price: string;
  link?: string;
  brand?: string;
  imageUrl: string;
}
interface AnswerBody {
  requestId: string;
  results: ResultJson[];
  filters: Record<string, string>;
  excluded: string[];
  sourceItemId?: string;
  collage: string;
}
interface ErrorBody {
  error: { code: string; message: string };
}

let stack: TestStack;
let shop: Map<string, ShopFields>;
let http: HttpServer;
let base: string;

before(async () => {
  stack = await createTestStack({ catalogSize: COUNT, reindex: false });
  shop = await writeShopLabels(stack.labelsPath, stack.items, (item, i) => ({
    title: `Shop ${item.productDisplayName}`,
    link: i === SCRIPT_LINK ? 'javascript:alert(1)' : `https://shop.example/p/${item.id}`,
    price: `${(19.9 + i).toFixed(2)} EUR`,
    brand: i % 2 === 0 ? 'Acme' : 'Zenith',
    availability: 'in_stock',
  }));
  await stack.catalog.reindex();
  http = createHttpServer({ service: stack.service, localPage: true });
  const { port } = await http.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
}, T);

after(async () => {
  await http?.close();
  await stack?.close();
});

async function similar(index: number): Promise<AnswerBody> {
  const item = stack.items[index]!;
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(await readFile(item.path))], { type: 'image/jpeg' }), 'p.jpg');
  const res = await fetch(`${base}/api/similar`, { method: 'POST', body: form });
  assert.equal(res.status, 200);
  return (await res.json()) as AnswerBody;
}

const more = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${base}/api/more`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** The chain a press on `a` continues. */
const chainOf = (a: AnswerBody) => [...new Set([...a.excluded, ...a.results.map((r) => r.id)])];

function neighbours(itemId: string, shown: readonly string[], k: number): string[] {
  const v = stack.catalog.vectorOf(itemId);
  assert.ok(v);
  return stack.catalog
    .search(v, { k: COUNT, excludeDuplicates: false })
    .map((r) => r.id)
    .filter((id) => id !== itemId && !shown.includes(id))
    .slice(0, k);
}

describe('POST /api/more', () => {
  let first: AnswerBody;

  test(
    'GIVEN a photo THEN /api/similar results carry link (http/https only), price and brand, and the chain fields',
    T,
    async () => {
      first = await similar(2);
      assert.equal(first.results.length, 6);
      assert.deepEqual(first.filters, {});
      assert.deepEqual(first.excluded, []);
      for (const r of first.results) {
        const f = shop.get(r.id)!;
        assert.equal(r.name, f.title);
        assert.equal(r.price, f.price);
        assert.equal(r.brand, f.brand);
        assert.equal(r.link, f.link.startsWith('https:') ? f.link : undefined);
      }
      // The javascript: link never comes back as a link, wherever it ranks.
      const all = (await (await more({ itemId: stack.items[0]!.id, k: 10 })).json()) as AnswerBody;
      const scripted = all.results.find((r) => r.id === stack.items[SCRIPT_LINK]!.id);
      if (scripted !== undefined) assert.equal(scripted.link, undefined);
    },
  );

  test(
    'GIVEN a press on result 3 THEN its neighbours answer (not it, none of the chain) with no embedding',
    T,
    async () => {
      const shown = chainOf(first);
      const item3 = first.results[2]!.id;
      const embedded = stack.embedder.stats.images;
      const res = await more({ itemId: item3, filters: first.filters, exclude: shown });
      assert.equal(res.status, 200);
      const next = (await res.json()) as AnswerBody;
      assert.equal(stack.embedder.stats.images, embedded, 'nothing was embedded');
      const ids = next.results.map((r) => r.id);
      assert.deepEqual(ids, neighbours(item3, shown, 6));
      assert.ok(!ids.includes(item3));
      assert.equal(next.sourceItemId, item3);
      assert.deepEqual(new Set(next.excluded), new Set([item3, ...shown]));
      // The collage and a result image are served like /api/similar's.
      const collage = await fetch(`${base}${next.collage}`);
      assert.equal(collage.status, 200);
      assert.equal(collage.headers.get('content-type'), 'image/jpeg');
      const image = await fetch(`${base}${next.results[0]!.imageUrl}`);
      assert.equal(image.status, 200);
    },
  );

  test('GIVEN filters and k THEN they are kept', T, async () => {
    const type = stack.items[4]!.articleType;
    const res = await more({ itemId: stack.items[4]!.id, filters: { articleType: type }, k: 2 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as AnswerBody;
    assert.ok(body.results.length >= 1 && body.results.length <= 2);
    assert.deepEqual(body.filters, { articleType: type });
  });

  test('GIVEN bad bodies THEN 400 BAD_REQUEST; an unknown item 404 ITEM_NOT_FOUND; GET 405', async () => {
    const cases: [string, Response][] = [
      ['not JSON', await more('{itemId:')],
      ['not an object', await more([1, 2])],
      ['no item id', await more({ exclude: [] })],
      ['item id not a string', await more({ itemId: 5 })],
      ['exclude not a list', await more({ itemId: 'a', exclude: 'b' })],
      [
        'exclude too long',
        await more({ itemId: 'a', exclude: Array.from({ length: MAX_EXCLUDE + 1 }, (_, i) => `${i}`) }),
      ],
      ['filters not strings', await more({ itemId: 'a', filters: { gender: ['Men'] } })],
      ['k out of range', await more({ itemId: 'a', k: 0 })],
      ['k not a number', await more({ itemId: 'a', k: '6' })],
      ['form content type', await more('itemId=a', { 'content-type': 'application/x-www-form-urlencoded' })],
      ['too large', await more({ itemId: 'a', pad: 'x'.repeat(300 * 1024) })],
    ];
    for (const [what, res] of cases) {
      assert.equal(res.status, 400, what);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, 'BAD_REQUEST', what);
      assert.equal(body.error.message, USER_MESSAGES.BAD_REQUEST, what);
    }
    const gone = await more({ itemId: 'no-such-item' });
    assert.equal(gone.status, 404);
    assert.deepEqual(((await gone.json()) as ErrorBody).error, {
      code: 'ITEM_NOT_FOUND',
      message: USER_MESSAGES.ITEM_NOT_FOUND,
    });
    const get = await fetch(`${base}/api/more`);
    assert.equal(get.status, 405);
    await get.body?.cancel();
  });

  test('GIVEN a cross-site POST THEN 403 ORIGIN_FORBIDDEN and nothing is searched', async () => {
    const res = await more(
      { itemId: stack.items[0]!.id },
      {
        'content-type': 'application/json',
        origin: 'https://evil.example',
      },
    );
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as ErrorBody).error.code, 'ORIGIN_FORBIDDEN');
  });
});

describe('the page in headless Chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      headless: true,
    });
  });

  after(async () => {
    await browser?.close();
  });

  test(
    'GIVEN a photo THEN cards link to the product with the price, and More like this shows the next answer',
    T,
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(base);
      const photo = stack.items.find((i) => i.path.endsWith('.jpg'))!;
      await page.getByTestId('file-input').setInputFiles(photo.path);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-card"]').length === 6);
      const cards = page.getByTestId('result-card');
      const firstIds = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-item-id') ?? ''));
      for (let i = 0; i < 6; i++) {
        const card = cards.nth(i);
        const f = shop.get(firstIds[i]!)!;
        assert.equal(await card.getByTestId('result-price').textContent(), f.price);
        const link = card.getByTestId('result-link');
        if (f.link.startsWith('https:')) {
          assert.equal(await link.getAttribute('href'), f.link);
          assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
          assert.equal(await link.getAttribute('target'), '_blank');
          assert.equal(await link.textContent(), f.title);
        } else {
          assert.equal(await link.count(), 0, 'a javascript: link is not rendered');
        }
      }
      await cards.nth(2).getByTestId('more-like-this').click();
      await page.waitForFunction((before) => {
        const ids = [...document.querySelectorAll('[data-testid="result-card"]')].map((e) =>
          e.getAttribute('data-item-id'),
        );
        return (
          ids.length > 0 && !document.body.hasAttribute('data-busy') && ids.every((id) => !before.includes(id ?? ''))
        );
      }, firstIds);
      const nextIds = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-item-id') ?? ''));
      assert.deepEqual(nextIds, neighbours(firstIds[2]!, firstIds, 6));
      assert.match((await page.locator('#results-title').textContent()) ?? '', /^More like /);
      await page.close();
    },
  );

  test(
    'GIVEN an answer whose chain is longer than the server takes THEN More like this sends the newest ids and answers',
    T,
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      // A long chain (many presses in a big catalog), as the server would have answered it.
      const earlier = Array.from({ length: MAX_EXCLUDE + 100 }, (_, i) => `seen-${i}`);
      const photo = stack.items.find((i) => i.path.endsWith('.jpg'))!;
      await page.route('**/api/similar', async (route) => {
        // The real answer (asked from here: the page's upload is not replayable), with a long chain.
        const form = new FormData();
        form.append('k', '6');
        form.append('image', new Blob([new Uint8Array(await readFile(photo.path))], { type: 'image/jpeg' }), 'q.jpg');
        const res = await fetch(`${base}/api/similar`, { method: 'POST', body: form });
        const json = (await res.json()) as AnswerBody;
        await route.fulfill({ status: res.status, json: { ...json, excluded: earlier } });
      });
      const sent: { exclude: string[] }[] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/api/more')) sent.push(JSON.parse(r.postData() ?? '{}') as { exclude: string[] });
      });
      await page.goto(base);
      await page.getByTestId('file-input').setInputFiles(photo.path);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-card"]').length === 6);
      const cards = page.getByTestId('result-card');
      const firstIds = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-item-id') ?? ''));
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/more'));
      await cards.nth(2).getByTestId('more-like-this').click();
      const res = await answered;
      assert.equal(res.status(), 200, await res.text());
      assert.equal(sent.length, 1);
      const exclude = sent[0]!.exclude;
      assert.equal(exclude.length, MAX_EXCLUDE);
      assert.deepEqual(exclude.slice(-6), firstIds, 'the answer shown is in the chain sent');
      await page.waitForFunction(() => !document.body.hasAttribute('data-busy'));
      assert.equal(await page.getByTestId('error').isHidden(), true);
      await page.close();
    },
  );
});
