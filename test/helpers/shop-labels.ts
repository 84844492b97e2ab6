/**
 * Test helper: turns a generated catalog into a small "shop": its labels file gets product
 * columns (title, link, price, brand, availability) beside the Kaggle ones, as a feed catalog's
 * items carry them. Write it before the catalog's (next) reindex.
 */
import { writeFile } from 'node:fs/promises';
import type { TestStackItem } from './stack.js';

/** The product columns of one item ('' leaves a column empty). */
export interface ShopFields {
  title: string;
  link: string;
  price: string;
  brand: string;
  availability: string;
}

/** "Shop <name>", https://shop.example/p/<id>, "<19.90 + i> EUR", Acme or Zenith, in stock. */
export function defaultShopFields(item: TestStackItem, i: number): ShopFields {
  return {
    title: `Shop ${item.productDisplayName}`,
    link: `https://shop.example/p/${encodeURIComponent(item.id)}?ref=lookalike`,
    price: `${(19.9 + i).toFixed(2)} EUR`,
    brand: i % 2 === 0 ? 'Acme' : 'Zenith',
    availability: 'in_stock',
  };
}

const csv = (fields: readonly string[]) =>
  fields.map((f) => (/[",\r\n]/.test(f) || f !== f.trim() ? `"${f.replaceAll('"', '""')}"` : f)).join(',');

/**
 * Rewrites `labelsPath` with the items' Kaggle labels plus the product columns.
 * @returns the product fields by item id
 */
export async function writeShopLabels(
  labelsPath: string,
  items: readonly TestStackItem[],
  fieldsOf: (item: TestStackItem, i: number) => ShopFields = defaultShopFields,
): Promise<Map<string, ShopFields>> {
  const byId = new Map<string, ShopFields>();
  const rows = [
    csv([
      'id',
      'gender',
      'articleType',
      'baseColour',
      'productDisplayName',
      'title',
      'link',
      'price',
      'brand',
      'availability',
    ]),
  ];
  items.forEach((item, i) => {
    const f = fieldsOf(item, i);
    byId.set(item.id, f);
    rows.push(
      csv([
        item.id,
        item.gender,
        item.articleType,
        item.baseColour,
        item.productDisplayName,
        f.title,
        f.link,
        f.price,
        f.brand,
        f.availability,
      ]),
    );
  });
  await writeFile(labelsPath, `${rows.join('\n')}\n`);
  return byId;
}
