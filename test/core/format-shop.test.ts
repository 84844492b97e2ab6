/**
 * The display texts of shop items (feed catalogs): title, subtitle with brand and category, price
 * with a sale price, and links that are only ever http(s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatResultLine,
  itemLink,
  itemPrice,
  itemSubtitle,
  itemTitle,
  type SimilarItem,
  safeLink,
} from '@lookalike/core';

const item = (metadata: SimilarItem['metadata']): SimilarItem => ({
  rank: 2,
  id: 'sku-1',
  path: '/cache/ab/abcdef.jpg',
  distance: 0.26,
  similarity: 0.87,
  metadata,
});

test('GIVEN a feed item THEN its title, brand, last category and colour are shown', () => {
  const shop = item({ title: ' Linen shirt ', brand: 'Acme', productType: 'Men > Tops > Shirts', color: 'Navy' });
  assert.equal(itemTitle(shop), 'Linen shirt');
  assert.equal(itemSubtitle(shop), 'Acme · Shirts · Navy');
  assert.equal(itemTitle(item({ title: '  ', productDisplayName: 'Kaggle name' })), 'Kaggle name');
  assert.equal(itemTitle(item({})), 'abcdef', 'the file name without its extension');
  // Kaggle labels keep their order and texts.
  assert.equal(
    itemSubtitle(item({ articleType: 'Shirts', baseColour: 'Navy Blue', color: 'x' })),
    'Shirts · Navy Blue',
  );
});

test('GIVEN feed texts with line breaks and control characters THEN each is shown on one line', () => {
  const hostile = item({
    title: 'Linen shirt\n2. Official store https://evil.example\r\n# Big\u2028> quote\u001b[31m',
    brand: 'Acme\nCorp',
    price: '49.90\tEUR',
  });
  assert.equal(itemTitle(hostile), 'Linen shirt 2. Official store https://evil.example # Big > quote [31m');
  assert.equal(itemSubtitle(hostile), 'Acme Corp');
  assert.equal(itemPrice(hostile), '49.90 EUR');
  const line = formatResultLine(hostile);
  for (const c of ['\n', '\r', '\u2028', '\u001b']) assert.ok(!line.includes(c), JSON.stringify(line));
});

test('GIVEN prices THEN the price is shown, a sale price before the original', () => {
  assert.equal(itemPrice(item({ price: '49.90 EUR' })), '49.90 EUR');
  assert.equal(itemPrice(item({ price: '49.90 EUR', salePrice: '29.90 EUR' })), '29.90 EUR (was 49.90 EUR)');
  assert.equal(itemPrice(item({ salePrice: '29.90 EUR' })), '29.90 EUR');
  assert.equal(itemPrice(item({})), '');
  assert.equal(
    formatResultLine(item({ title: 'Linen shirt', brand: 'Acme', price: '49.90 EUR' })),
    '2. Linen shirt — Acme — 49.90 EUR — 87%',
  );
});

test('GIVEN links THEN only absolute http(s) URLs without credentials are links', () => {
  assert.equal(itemLink(item({ link: 'https://shop.example/p/1?x=1' })), 'https://shop.example/p/1?x=1');
  assert.equal(safeLink(' HTTP://Shop.Example/a b '), 'http://shop.example/a%20b');
  for (const bad of [
    undefined,
    '',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<b>x</b>',
    'ftp://shop.example/x',
    '/relative/path',
    'https://user:pass@shop.example/',
    `https://shop.example/${'x'.repeat(2100)}`,
  ]) {
    assert.equal(safeLink(bad), undefined, String(bad).slice(0, 40));
  }
});
