/**
 * The Shopify product CSV export: rows per variant and per image under one Handle fold into one
 * product; draft and archived products are skipped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { productMetadata } from '@lookalike/feeds';
import { productsOf, rowsOf, skipsOf } from './helpers.js';

const HEADER = [
  'Handle',
  'Title',
  'Body (HTML)',
  'Vendor',
  'Product Category',
  'Type',
  'Tags',
  'Published',
  'Option1 Name',
  'Option1 Value',
  'Option2 Name',
  'Option2 Value',
  'Variant SKU',
  'Variant Inventory Qty',
  'Variant Inventory Policy',
  'Variant Price',
  'Variant Compare At Price',
  'Image Src',
  'Image Position',
  'Image Alt Text',
  'SEO Title',
  'Status',
];

type Row = Partial<Record<(typeof HEADER)[number], string>>;

function csv(rows: Row[]): string {
  const q = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return `${[HEADER.join(','), ...rows.map((r) => HEADER.map((h) => q(r[h] ?? '')).join(','))].join('\n')}\n`;
}

const EXPORT = csv([
  {
    Handle: 'classic-tee',
    Title: 'Classic Tee',
    'Body (HTML)': '<p>Soft, "heavy" cotton.</p>\n<ul><li>Unisex</li></ul>',
    Vendor: 'Acme Apparel',
    'Product Category': 'Apparel & Accessories > Clothing > Shirts & Tops',
    Type: 'T-Shirts',
    Tags: 'cotton, summer',
    Published: 'TRUE',
    'Option1 Name': 'Size',
    'Option1 Value': 'S',
    'Option2 Name': 'Color',
    'Option2 Value': 'Red',
    'Variant SKU': 'TEE-S-R',
    'Variant Inventory Qty': '0',
    'Variant Inventory Policy': 'deny',
    'Variant Price': '25.00',
    'Variant Compare At Price': '30.00',
    'Image Src': 'https://cdn.shopify.example/tee-back.jpg',
    'Image Position': '2',
    'SEO Title': 'Classic Tee',
    Status: 'active',
  },
  {
    Handle: 'classic-tee',
    'Option1 Value': 'M',
    'Option2 Value': 'Red',
    'Variant SKU': 'TEE-M-R',
    'Variant Inventory Qty': '0',
    'Variant Inventory Policy': 'deny',
    'Variant Price': '25.00',
    'Image Src': 'https://cdn.shopify.example/tee-front.jpg',
    'Image Position': '1',
  },
  {
    Handle: 'classic-tee',
    'Option1 Value': 'L',
    'Option2 Value': 'Red',
    'Variant SKU': 'TEE-L-R',
    'Variant Inventory Qty': '5',
    'Variant Inventory Policy': 'deny',
    'Variant Price': '27.00',
  },
  { Handle: 'classic-tee', 'Image Src': 'https://cdn.shopify.example/tee-side.jpg', 'Image Position': '3' },
  {
    Handle: 'wool-cap',
    Title: 'Wool Cap',
    Vendor: 'Acme Apparel',
    Type: 'Hats',
    'Option1 Name': 'Title',
    'Option1 Value': 'Default Title',
    'Variant Inventory Qty': '0',
    'Variant Inventory Policy': 'deny',
    'Variant Price': '19.90',
    'Image Src': 'https://cdn.shopify.example/cap.jpg',
    'Image Position': '1',
    Status: 'active',
  },
  {
    Handle: 'secret-drop',
    Title: 'Not yet',
    'Variant Price': '99.00',
    'Image Src': 'https://cdn.shopify.example/secret.jpg',
    Status: 'draft',
  },
  { Handle: 'secret-drop', 'Option1 Value': 'XL', 'Variant Price': '99.00' },
  {
    Handle: 'old-coat',
    Title: 'Old coat',
    'Variant Price': '150.00',
    'Image Src': 'https://cdn.shopify.example/coat.jpg',
    Status: 'archived',
  },
  { Handle: 'no-photo', Title: 'No photo', 'Variant Price': '5.00', Status: 'active' },
  {
    Handle: 'hoodie',
    Title: 'Hoodie',
    Vendor: 'Acme Apparel',
    Type: 'Sweaters',
    'Option1 Name': 'Size',
    'Option1 Value': 'M',
    'Variant Inventory Qty': '0',
    'Variant Inventory Policy': 'continue',
    'Variant Price': '55.00',
    'Image Src': 'https://cdn.shopify.example/hoodie.jpg',
    Status: 'active',
  },
  {
    Handle: 'classic-tee',
    Title: 'Classic Tee again',
    'Variant Price': '1.00',
    'Image Src': 'https://cdn.shopify.example/x.jpg',
  },
]);

describe('Shopify product export', () => {
  test('GIVEN variant and image rows under one Handle THEN one product: first image by position, variants collected, sale price from Compare At', async () => {
    const rows = await rowsOf(EXPORT, { currency: 'EUR' });
    const products = productsOf(rows);
    assert.deepEqual([...products.keys()], ['classic-tee', 'wool-cap', 'hoodie']);
    const tee = products.get('classic-tee');
    assert.ok(tee !== undefined);
    assert.equal(tee.title, 'Classic Tee');
    assert.equal(tee.brand, 'Acme Apparel');
    assert.equal(tee.productType, 'T-Shirts');
    assert.equal(tee.category, 'Apparel & Accessories > Clothing > Shirts & Tops');
    assert.equal(tee.imageUrl, 'https://cdn.shopify.example/tee-front.jpg');
    assert.deepEqual(tee.additionalImageUrls, [
      'https://cdn.shopify.example/tee-back.jpg',
      'https://cdn.shopify.example/tee-side.jpg',
    ]);
    assert.deepEqual(tee.price, { amount: '30.00', currency: 'EUR', text: '30.00' });
    assert.deepEqual(tee.salePrice, { amount: '25.00', currency: 'EUR', text: '25.00' });
    assert.deepEqual(
      tee.variants?.map((v) => [v.title, v.price !== undefined && 'amount' in v.price ? v.price.amount : undefined]),
      [
        ['S / Red', '25.00'],
        ['M / Red', '25.00'],
        ['L / Red', '27.00'],
      ],
    );
    assert.equal(tee.availability, 'in_stock', 'one variant has stock');
    assert.equal(tee.extra.Tags, 'cotton, summer');
    assert.equal(tee.extra['Variant SKU'], undefined, 'per-variant columns stay out of extra');
    assert.equal(tee.extra['Image Position'], undefined);
    const line = rows.find((r) => r.ok && r.product.id === 'classic-tee')?.line;
    assert.equal(line, 2, 'the line of the first row');

    const meta = productMetadata(tee);
    assert.equal(meta.price, '30.00 EUR');
    assert.equal(meta.salePrice, '25.00 EUR');
    assert.equal(meta.variants, 'S / Red, M / Red, L / Red');
    assert.equal(meta.brand, 'Acme Apparel');
  });

  test('GIVEN a single "Default Title" variant without stock THEN no variants and out of stock; "continue" selling THEN in stock', async () => {
    const products = productsOf(await rowsOf(EXPORT, { currency: 'EUR' }));
    const cap = products.get('wool-cap');
    assert.equal(cap?.variants, undefined);
    assert.equal(cap?.availability, 'out_of_stock');
    assert.deepEqual(cap?.price, { amount: '19.90', currency: 'EUR', text: '19.90' });
    assert.equal(cap?.salePrice, undefined);
    assert.equal(products.get('hoodie')?.availability, 'in_stock');
  });

  test('GIVEN draft, archived, image-less and repeated handles THEN skipped with their codes', async () => {
    const rows = await rowsOf(EXPORT, { currency: 'EUR' });
    assert.deepEqual(skipsOf(rows), [
      [8, 'FEED_ROW_INACTIVE'],
      [10, 'FEED_ROW_INACTIVE'],
      [11, 'FEED_ROW_NO_IMAGE'],
      [13, 'FEED_ROW_DUPLICATE_ID'],
    ]);
  });

  test('GIVEN no currency option THEN Shopify prices stay text (the export does not say which currency)', async () => {
    const tee = productsOf(await rowsOf(EXPORT)).get('classic-tee');
    assert.deepEqual(tee?.price, { text: '30.00' });
    assert.equal(productMetadata(tee ?? { id: '', imageUrl: '', additionalImageUrls: [], extra: {} }).price, '30.00');
  });
});
