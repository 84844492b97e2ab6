/**
 * Column recognition by header: Google Merchant Center attributes, the Shopify product export and
 * the Content API's camelCase names, matched case-insensitively with the `g:` prefix, spaces,
 * underscores and punctuation ignored ("image_link" = "Image Link" = "imageLink" = "g:image_link").
 * `--map field=column` names are tried before the known ones.
 */
import { FEED_FIELDS, type FeedField } from './types.js';

/** The form names are compared in. */
export function normaliseName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^g:/, '')
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Known names per field, best first (already normalised). */
const KNOWN_NAMES: Readonly<Record<FeedField, readonly string[]>> = {
  id: ['id', 'offerid', 'itemid', 'productid'],
  title: ['title', 'name', 'productname', 'productdisplayname'],
  link: ['link', 'productlink', 'producturl', 'url'],
  imageUrl: ['imagelink', 'imageurl', 'imagesrc', 'image'],
  additionalImageUrls: ['additionalimagelink', 'additionalimagelinks', 'additionalimageurls'],
  price: ['price', 'variantprice'],
  salePrice: ['saleprice'],
  brand: ['brand', 'vendor', 'manufacturer'],
  gender: ['gender'],
  ageGroup: ['agegroup'],
  color: ['color', 'colour', 'basecolour', 'basecolor'],
  productType: ['producttype', 'producttypes', 'type'],
  category: ['googleproductcategory', 'productcategory', 'category'],
  availability: ['availability'],
  groupId: ['itemgroupid', 'groupid'],
};

/** Where each field's value comes from in one set of column names. */
export interface ColumnPlan {
  /** Column indexes per field, in the order they are tried. */
  readonly fields: Readonly<Record<FeedField, readonly number[]>>;
  /** Columns no field claims: kept as `extra`. */
  readonly extra: readonly number[];
}

export type FieldMap = Partial<Record<FeedField, string>>;

/** The plan for `names` (a header, or the keys of one JSON object / XML item). */
export function planColumns(names: readonly string[], map: FieldMap = {}): ColumnPlan {
  const byName = new Map<string, number[]>();
  names.forEach((name, i) => {
    const key = normaliseName(name);
    if (key === '') return;
    const list = byName.get(key);
    if (list === undefined) byName.set(key, [i]);
    else list.push(i);
  });
  const claimed = new Set<number>();
  const fields = {} as Record<FeedField, number[]>;
  for (const field of FEED_FIELDS) {
    const order: string[] = [];
    const mapped = map[field];
    if (mapped !== undefined) order.push(normaliseName(mapped));
    order.push(...KNOWN_NAMES[field]);
    const indexes: number[] = [];
    for (const key of order) {
      for (const i of byName.get(key) ?? []) {
        if (!indexes.includes(i)) indexes.push(i);
      }
    }
    fields[field] = indexes;
  }
  // A column mapped by --map belongs to that field only (e.g. map title=type keeps Type out of productType).
  const mappedCols = new Set<number>();
  for (const field of FEED_FIELDS) {
    const mapped = map[field];
    if (mapped === undefined) continue;
    for (const i of byName.get(normaliseName(mapped)) ?? []) mappedCols.add(i);
  }
  for (const field of FEED_FIELDS) {
    const mapped = map[field];
    const own = new Set(mapped === undefined ? [] : (byName.get(normaliseName(mapped)) ?? []));
    fields[field] = fields[field].filter((i) => own.has(i) || !mappedCols.has(i));
    for (const i of fields[field]) claimed.add(i);
  }
  const extra: number[] = [];
  names.forEach((name, i) => {
    if (!claimed.has(i) && normaliseName(name) !== '') extra.push(i);
  });
  return { fields, extra };
}

/** True when the plan has a column for `field`. */
export function hasColumn(plan: ColumnPlan, field: FeedField): boolean {
  return plan.fields[field].length > 0;
}

/** The names the header is searched for, for messages ("image_link, Image Src …"). */
export function knownNamesOf(field: FeedField): readonly string[] {
  return KNOWN_NAMES[field];
}
