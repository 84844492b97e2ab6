/**
 * One Google Merchant product set written as TSV, CSV, JSON, JSON Lines, RSS 2.0 and Atom: each
 * reads back as the same products, fed in 7-byte pieces (chunk boundaries inside quotes, tags,
 * escapes and multi-byte characters).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { LookalikeError } from '@lookalike/core';
import { detectFeedFormat, type FeedProduct, productMetadata } from '@lookalike/feeds';
import { productsOf, rowsOf, skipsOf } from './helpers.js';

interface Item {
  id: string;
  title: string;
  link: string;
  image_link: string;
  additional_image_link: string[];
  price: string;
  sale_price?: string;
  brand: string;
  color: string;
  gender: string;
  age_group: string;
  product_type: string;
  google_product_category: string;
  availability: string;
  item_group_id?: string;
  description: string;
}

const ITEMS: Item[] = [
  {
    id: 'sku-1',
    title: 'Chemise à carreaux « Été », coupe droite',
    link: 'https://shop.example/p/sku-1?ref=feed&x=1',
    image_link: 'https://cdn.example/i/sku-1.jpg',
    additional_image_link: ['https://cdn.example/i/sku-1-b.jpg', 'https://cdn.example/i/sku-1-c.jpg'],
    price: '49.90 EUR',
    sale_price: '39.90 EUR',
    brand: 'Maison Ø',
    color: 'Navy Blue',
    gender: 'male',
    age_group: 'adult',
    product_type: 'Apparel > Shirts > Checked',
    google_product_category: '212',
    availability: 'in stock',
    item_group_id: 'grp-1',
    description: 'Cotton, "slim" fit; 100% organic.',
  },
  {
    id: 'sku-2',
    title: 'Sneaker 👟 Low',
    link: 'https://shop.example/p/sku-2',
    image_link: 'https://cdn.example/i/sku-2.png',
    additional_image_link: [],
    price: '1,234.00 USD',
    brand: 'Acme & Sons',
    color: 'White',
    gender: 'unisex',
    age_group: 'adult',
    product_type: 'Shoes > Sneakers',
    google_product_category: '187',
    availability: 'out_of_stock',
    description: 'Leather <b>upper</b>',
  },
  {
    id: 'sku-3',
    title: 'Scarf',
    link: 'https://shop.example/p/sku-3',
    image_link: 'https://cdn.example/i/sku-3.webp',
    additional_image_link: ['https://cdn.example/i/sku-3,alt.webp'],
    price: '12 GBP',
    brand: 'Wool Co',
    color: 'Red',
    gender: 'female',
    age_group: 'kids',
    product_type: 'Accessories',
    google_product_category: '177',
    availability: 'preorder',
    description: 'Line one\nline two',
  },
];

const COLUMNS = [
  'id',
  'title',
  'link',
  'image_link',
  'additional_image_link',
  'price',
  'sale_price',
  'brand',
  'color',
  'gender',
  'age_group',
  'product_type',
  'google_product_category',
  'availability',
  'item_group_id',
  'description',
] as const;

function cell(item: Item, col: (typeof COLUMNS)[number]): string {
  const v = item[col];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function toCsv(items: Item[]): string {
  const lines = [COLUMNS.join(',')];
  for (const it of items) lines.push(COLUMNS.map((c) => csvField(cell(it, c))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function tsvField(v: string): string {
  return /[\t\n"]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function toTsv(items: Item[]): string {
  // Merchant TSV headers may carry the g: prefix; fields with tabs or newlines are quoted.
  const lines = [COLUMNS.map((c) => (c === 'id' || c === 'title' ? c : `g:${c}`)).join('\t')];
  for (const it of items) lines.push(COLUMNS.map((c) => tsvField(cell(it, c))).join('\t'));
  return `${lines.join('\n')}\n`;
}

function toJsonObject(it: Item): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of COLUMNS) {
    const v = it[c];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) o[c] = v;
  }
  return o;
}

function xmlEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function xmlFields(it: Item, linkAsAtom: boolean): string {
  const out: string[] = [];
  for (const c of COLUMNS) {
    const v = it[c];
    if (v === undefined) continue;
    if (c === 'title') out.push(`<title>${xmlEscape(v as string)}</title>`);
    else if (c === 'link')
      out.push(
        linkAsAtom
          ? `<link rel="alternate" href="${xmlEscape(v as string)}"/>`
          : `<link>${xmlEscape(v as string)}</link>`,
      );
    else if (c === 'description') out.push(`<description><![CDATA[${v as string}]]></description>`);
    else if (Array.isArray(v)) for (const x of v) out.push(`<g:${c}>${xmlEscape(x)}</g:${c}>`);
    else out.push(`<g:${c}>${xmlEscape(v as string)}</g:${c}>`);
  }
  return out.join('\n    ');
}

function toRss(items: Item[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
  <channel>
    <title>Shop</title>
    <link>https://shop.example/</link>
    <!-- generated -->
${items.map((it) => `  <item>\n    ${xmlFields(it, false)}\n  </item>`).join('\n')}
  </channel>
</rss>
`;
}

function toAtom(items: Item[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
  <title>Shop</title>
  <link rel="self" href="https://shop.example/feed.xml"/>
  <updated>2024-01-01T00:00:00Z</updated>
${items.map((it) => `  <entry>\n    ${xmlFields(it, true)}\n  </entry>`).join('\n')}
</feed>
`;
}

const FEEDS: Record<string, { text: string; format: string }> = {
  'merchant.tsv': { text: toTsv(ITEMS), format: 'tsv' },
  'merchant.csv': { text: toCsv(ITEMS), format: 'csv' },
  'merchant.json': { text: JSON.stringify(ITEMS.map(toJsonObject), null, 2), format: 'json' },
  'merchant.jsonl': { text: `${ITEMS.map((it) => JSON.stringify(toJsonObject(it))).join('\n')}\n`, format: 'jsonl' },
  'merchant.rss': { text: toRss(ITEMS), format: 'xml' },
  'merchant.atom': { text: toAtom(ITEMS), format: 'xml' },
};

function expectProduct(p: FeedProduct | undefined, it: Item): void {
  assert.ok(p !== undefined, `product ${it.id}`);
  assert.equal(p.title, it.title);
  assert.equal(p.link, it.link);
  assert.equal(p.imageUrl, it.image_link);
  assert.deepEqual(p.additionalImageUrls, it.additional_image_link);
  assert.equal(p.brand, it.brand);
  assert.equal(p.color, it.color);
  assert.equal(p.gender, it.gender);
  assert.equal(p.ageGroup, it.age_group);
  assert.equal(p.productType, it.product_type);
  assert.equal(p.category, it.google_product_category);
  assert.equal(p.groupId, it.item_group_id);
  assert.equal(p.extra.description, it.description);
}

describe('readFeed: the formats', () => {
  for (const [name, { text, format }] of Object.entries(FEEDS)) {
    test(`GIVEN the products as ${name} THEN the format is detected and every field reads back`, async () => {
      assert.equal(detectFeedFormat(Buffer.from(text), name), format);
      assert.equal(detectFeedFormat(Buffer.from(text)), format, 'from the content alone');
      const rows = await rowsOf(text, { name });
      assert.deepEqual(skipsOf(rows), []);
      const products = productsOf(rows);
      assert.deepEqual([...products.keys()], ['sku-1', 'sku-2', 'sku-3']);
      for (const it of ITEMS) expectProduct(products.get(it.id), it);
      const p1 = products.get('sku-1');
      assert.deepEqual(p1?.price, { amount: '49.90', currency: 'EUR', text: '49.90 EUR' });
      assert.deepEqual(p1?.salePrice, { amount: '39.90', currency: 'EUR', text: '39.90 EUR' });
      assert.equal(p1?.availability, 'in_stock');
      assert.deepEqual(products.get('sku-2')?.price, { amount: '1234.00', currency: 'USD', text: '1,234.00 USD' });
      assert.equal(products.get('sku-2')?.availability, 'out_of_stock');
      assert.equal(products.get('sku-3')?.availability, 'preorder');
    });
  }

  test('GIVEN the CSV rows THEN each product carries the line its row starts on (multi-line quoted fields counted)', async () => {
    const rows = await rowsOf(FEEDS['merchant.csv']?.text ?? '');
    assert.deepEqual(
      rows.map((r) => r.line),
      [2, 3, 4],
    );
    const jsonl = await rowsOf(FEEDS['merchant.jsonl']?.text ?? '');
    assert.deepEqual(
      jsonl.map((r) => r.line),
      [1, 2, 3],
    );
    const json = await rowsOf(FEEDS['merchant.json']?.text ?? '');
    assert.deepEqual(
      json.map((r) => r.line),
      [1, 2, 3],
      'JSON: the array index + 1',
    );
  });

  test('GIVEN a gzip-compressed feed with a BOM THEN it is decompressed and read the same', async () => {
    const gz = gzipSync(Buffer.from(`\uFEFF${FEEDS['merchant.tsv']?.text ?? ''}`));
    const rows = await rowsOf(gz, { name: 'feed.tsv.gz' }, 11);
    assert.deepEqual([...productsOf(rows).keys()], ['sku-1', 'sku-2', 'sku-3']);
  });

  test('GIVEN --format THEN detection is skipped (a .txt TSV read as TSV)', async () => {
    const rows = await rowsOf(FEEDS['merchant.tsv']?.text ?? '', { format: 'tsv', name: 'x.txt' });
    assert.equal(productsOf(rows).size, 3);
  });

  test('GIVEN the Content API JSON shape (camelCase, price objects, arrays) THEN the same fields', async () => {
    const feed = JSON.stringify([
      {
        offerId: 'c-1',
        title: 'Jacket',
        link: 'https://shop.example/c-1',
        imageLink: 'https://cdn.example/c-1.jpg',
        additionalImageLinks: ['https://cdn.example/c-1b.jpg'],
        price: { value: '89.00', currency: 'CHF' },
        salePrice: { value: 79, currency: 'CHF' },
        productTypes: ['Apparel > Jackets', 'Sale'],
        itemGroupId: 'g',
        sizes: ['S', 'M'],
        shipping: [{ country: 'CH', price: { value: '5', currency: 'CHF' } }],
        inStock: true,
        note: null,
      },
    ]);
    const [row] = await rowsOf(feed);
    assert.ok(row?.ok === true);
    const p = row.product;
    assert.equal(p.id, 'c-1');
    assert.deepEqual(p.price, { amount: '89.00', currency: 'CHF', text: '89.00 CHF' });
    assert.deepEqual(p.salePrice, { amount: '79.00', currency: 'CHF', text: '79 CHF' });
    assert.deepEqual(p.additionalImageUrls, ['https://cdn.example/c-1b.jpg']);
    assert.equal(p.productType, 'Apparel > Jackets');
    assert.equal(p.groupId, 'g');
    assert.equal(p.extra.sizes, 'S, M');
    assert.equal(p.extra.inStock, 'true');
    assert.equal(p.extra.note, undefined);
    assert.match(p.extra.shipping ?? '', /"country":"CH"/);
  });
});

describe('readFeed: columns, --map and row rules', () => {
  test('GIVEN other column names THEN --map names them, tried before the known names', async () => {
    const csv =
      'Artikelnummer,Name,Bild-URL,image_link,Preis\nA1,Hemd,https://c.example/a1.jpg,https://c.example/ignored.jpg,"19,99 EUR"\n';
    const rows = await rowsOf(csv, { map: { id: 'Artikelnummer', imageUrl: 'bild_url', price: 'Preis' } });
    const p = productsOf(rows).get('A1');
    assert.equal(p?.imageUrl, 'https://c.example/a1.jpg');
    assert.equal(p?.title, 'Hemd');
    assert.deepEqual(p?.price, { amount: '19.99', currency: 'EUR', text: '19,99 EUR' });
  });

  test('GIVEN a header without an id or an image column THEN FEED_INVALID naming what was looked for', async () => {
    await assert.rejects(
      rowsOf('sku,image_link\n1,https://c.example/1.jpg\n', { name: 'shop.csv' }),
      (err: unknown) =>
        err instanceof LookalikeError &&
        err.code === 'FEED_INVALID' &&
        err.details.line === 1 &&
        /no id column/.test(err.message) &&
        /--map id=COLUMN/.test(err.message),
    );
    await assert.rejects(
      rowsOf('id,gender,articleType,productDisplayName\n15970,Men,Shirts,Turtle Check Men Navy Blue Shirt\n'),
      (err: unknown) =>
        err instanceof LookalikeError && err.code === 'FEED_INVALID' && /no image column/.test(err.message),
    );
  });

  test('GIVEN rows without id or image, with bad URLs and duplicate ids THEN each is skipped with its code and the rest is read', async () => {
    const tsv = [
      'id\ttitle\timage_link\tlink',
      'a\tA\thttps://c.example/a.jpg\thttps://s.example/a',
      '\tNo id\thttps://c.example/x.jpg\t',
      'b\tNo image\t\t',
      'c\tBad image\tjavascript:alert(1)\t',
      'd\tBad link\thttps://c.example/d.jpg\tjavascript:alert(1)',
      'e\tFile image\tfile:///etc/passwd\t',
      'a\tDuplicate\thttps://c.example/a2.jpg\t',
      'f\tF\thttps://c.example/f.jpg\thttps://s.example/f',
    ].join('\n');
    const rows = await rowsOf(tsv);
    assert.deepEqual(skipsOf(rows), [
      [3, 'FEED_ROW_NO_ID'],
      [4, 'FEED_ROW_NO_IMAGE'],
      [5, 'FEED_ROW_BAD_URL'],
      [6, 'FEED_ROW_BAD_URL'],
      [7, 'FEED_ROW_BAD_URL'],
      [8, 'FEED_ROW_DUPLICATE_ID'],
    ]);
    const products = productsOf(rows);
    assert.deepEqual([...products.keys()], ['a', 'f']);
    assert.equal(products.get('a')?.title, 'A', 'the first row with an id wins');
  });

  test('GIVEN relative image URLs THEN they resolve against baseUrl, or stay paths for a local feed', async () => {
    const csv = 'id,image_link,link\n1,img/1.jpg,/p/1\n2,//cdn.example/2.jpg,\n';
    const remote = productsOf(await rowsOf(csv, { baseUrl: 'https://shop.example/feeds/all.csv' }));
    assert.equal(remote.get('1')?.imageUrl, 'https://shop.example/feeds/img/1.jpg');
    assert.equal(remote.get('1')?.link, 'https://shop.example/p/1');
    assert.equal(remote.get('2')?.imageUrl, 'https://cdn.example/2.jpg');
    const local = await rowsOf('id,image_link\n1,img/1.jpg\n');
    assert.equal(productsOf(local).get('1')?.imageUrl, 'img/1.jpg');
    const badLink = await rowsOf(csv);
    assert.deepEqual(skipsOf(badLink), [[2, 'FEED_ROW_BAD_URL']], 'a relative link without a base');
  });

  test('GIVEN a column named __proto__ THEN it is a plain extra value, never a prototype', async () => {
    const [row] = await rowsOf('id,image_link,__proto__\n1,https://c.example/1.jpg,"{""polluted"":true}"\n');
    assert.ok(row?.ok === true);
    assert.equal(Object.getPrototypeOf(row.product.extra), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(row.product.extra, '__proto__')?.value, '{"polluted":true}');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('productMetadata', () => {
  test('GIVEN a feed product THEN the catalog metadata has display prices, the fields and short extras', async () => {
    const rows = await rowsOf(FEEDS['merchant.tsv']?.text ?? '');
    const p = productsOf(rows).get('sku-1');
    assert.ok(p !== undefined);
    p.extra.longText = 'x'.repeat(300);
    const meta = productMetadata(p);
    assert.deepEqual(meta, {
      title: 'Chemise à carreaux « Été », coupe droite',
      link: 'https://shop.example/p/sku-1?ref=feed&x=1',
      price: '49.90 EUR',
      priceAmount: '49.90',
      priceCurrency: 'EUR',
      salePrice: '39.90 EUR',
      salePriceAmount: '39.90',
      salePriceCurrency: 'EUR',
      brand: 'Maison Ø',
      availability: 'in_stock',
      color: 'Navy Blue',
      productType: 'Apparel > Shirts > Checked',
      gender: 'male',
      ageGroup: 'adult',
      category: '212',
      groupId: 'grp-1',
      imageUrl: 'https://cdn.example/i/sku-1.jpg',
      description: 'Cotton, "slim" fit; 100% organic.',
    });
  });

  test('GIVEN an ambiguous price THEN the metadata shows the text and has no amount', () => {
    const meta = productMetadata({
      id: 'x',
      imageUrl: 'https://c.example/x.jpg',
      additionalImageUrls: [],
      price: { text: '$12' },
      extra: {},
    });
    assert.deepEqual(meta, { price: '$12', imageUrl: 'https://c.example/x.jpg' });
  });
});
