/**
 * One raw record (a CSV row, a JSON object, an XML item) → a FeedProduct or a skipped row.
 */
import { normaliseAvailability } from './availability.js';
import { type FeedRowSkip, skip } from './codes.js';
import type { ColumnPlan } from './columns.js';
import { parsePrice } from './price.js';
import type { FeedField, FeedProduct } from './types.js';

/** A value as a format gives it: text, or several (repeated XML elements, JSON arrays). */
export type RawValue = string | readonly string[];

export interface RawRecord {
  /** Where the record starts (1-based line; JSON: array index + 1). */
  line: number;
  names: readonly string[];
  values: readonly RawValue[];
}

/**
 * A record from an object's (name, value) pairs: an array becomes the list of its elements'
 * texts, and a value (or array) without text is left out. `asText` is the format's own reading.
 */
export function recordOf<V>(
  entries: Iterable<readonly [string, V]>,
  asText: (v: V) => string | undefined,
  line: number,
): RawRecord {
  const names: string[] = [];
  const values: RawValue[] = [];
  for (const [k, v] of entries) {
    if (Array.isArray(v)) {
      const list = (v as V[]).map(asText).filter((x): x is string => x !== undefined);
      if (list.length === 0) continue;
      names.push(k);
      values.push(list);
      continue;
    }
    const text = asText(v);
    if (text === undefined) continue;
    names.push(k);
    values.push(text);
  }
  return { line, names, values };
}

export interface BuildContext {
  baseUrl?: string | undefined;
  currency?: string | undefined;
}

function firstText(value: RawValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.trim();
  for (const v of value) {
    const t = v.trim();
    if (t !== '') return t;
  }
  return '';
}

/** The first non-empty value among the field's columns. */
export function fieldText(rec: RawRecord, plan: ColumnPlan, field: FeedField): string {
  for (const i of plan.fields[field]) {
    const t = firstText(rec.values[i]);
    if (t !== '') return t;
  }
  return '';
}

/** Every value of the field's columns; text cells are split at commas that start another URL. */
function fieldList(rec: RawRecord, plan: ColumnPlan, field: FeedField): string[] {
  const out: string[] = [];
  for (const i of plan.fields[field]) {
    const value = rec.values[i];
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) {
      for (const part of v.split(/,\s*(?=(?:https?:)?\/\/)/i)) {
        const t = part.trim();
        if (t !== '') out.push(t);
      }
    }
  }
  return out;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * An http(s) URL for `value`, resolved against `baseUrl` when relative; a relative image path is
 * kept as written without a base (a local feed's files). Undefined when it is not http(s).
 */
export function checkUrl(value: string, kind: 'image' | 'link', baseUrl?: string): string | undefined {
  if (SCHEME.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return undefined;
    }
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : undefined;
  }
  if (baseUrl !== undefined) {
    try {
      const url = new URL(value, baseUrl);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
    } catch {
      return undefined;
    }
  }
  if (value.startsWith('//')) {
    try {
      return new URL(`https:${value}`).href;
    } catch {
      return undefined;
    }
  }
  return kind === 'image' && !value.includes('\\') ? value : undefined;
}

function textOrJoined(value: RawValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.trim();
  return value
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .join(', ');
}

/** The columns no field claims, as text (empty ones left out). */
export function extraOf(
  rec: RawRecord,
  plan: ColumnPlan,
  leaveOut?: (name: string) => boolean,
): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const i of plan.extra) {
    const name = (rec.names[i] as string).trim().replace(/^g:/i, '');
    if (leaveOut?.(name) === true || Object.hasOwn(extra, name)) continue;
    const text = textOrJoined(rec.values[i]);
    // defineProperty: a column named "__proto__" is a plain key, never the prototype.
    if (text !== '')
      Object.defineProperty(extra, name, { value: text, enumerable: true, writable: true, configurable: true });
  }
  return extra;
}

/**
 * The product of one record, or why it is skipped: FEED_ROW_NO_ID, FEED_ROW_NO_IMAGE,
 * FEED_ROW_BAD_URL (image or link not http(s)). Duplicate ids are the caller's.
 */
export function buildProduct(rec: RawRecord, plan: ColumnPlan, ctx: BuildContext): BuiltRow {
  const id = fieldText(rec, plan, 'id');
  if (id === '') return skip(rec.line, 'FEED_ROW_NO_ID', 'no product id');
  return completeProduct(
    rec,
    plan,
    ctx,
    id,
    fieldText(rec, plan, 'imageUrl'),
    fieldList(rec, plan, 'additionalImageUrls'),
  );
}

/** buildProduct with the id and images already chosen (Shopify folds them from several rows). */
export function completeProduct(
  rec: RawRecord,
  plan: ColumnPlan,
  ctx: BuildContext,
  id: string,
  image: string,
  additional: readonly string[],
  leaveOut?: (name: string) => boolean,
): BuiltRow {
  const line = rec.line;
  if (image === '') return skip(line, 'FEED_ROW_NO_IMAGE', `product ${id} has no image URL`);
  const imageUrl = checkUrl(image, 'image', ctx.baseUrl);
  if (imageUrl === undefined) {
    return skip(line, 'FEED_ROW_BAD_URL', `product ${id}: the image URL is not http(s): ${image.slice(0, 100)}`);
  }
  const product: FeedProduct = { id, imageUrl, additionalImageUrls: [], extra: {} };
  const linkText = fieldText(rec, plan, 'link');
  if (linkText !== '') {
    const link = checkUrl(linkText, 'link', ctx.baseUrl);
    if (link === undefined) {
      return skip(line, 'FEED_ROW_BAD_URL', `product ${id}: the link is not http(s): ${linkText.slice(0, 100)}`);
    }
    product.link = link;
  }
  for (const extraImage of additional) {
    const url = checkUrl(extraImage, 'image', ctx.baseUrl);
    if (url !== undefined && url !== imageUrl && !product.additionalImageUrls.includes(url)) {
      product.additionalImageUrls.push(url);
    }
  }
  const title = fieldText(rec, plan, 'title');
  if (title !== '') product.title = title;
  const price = fieldText(rec, plan, 'price');
  if (price !== '') product.price = parsePrice(price, ctx.currency);
  const salePrice = fieldText(rec, plan, 'salePrice');
  if (salePrice !== '') product.salePrice = parsePrice(salePrice, ctx.currency);
  const availability = normaliseAvailability(fieldText(rec, plan, 'availability'));
  if (availability !== undefined) product.availability = availability;
  for (const field of ['brand', 'gender', 'ageGroup', 'color', 'productType', 'category', 'groupId'] as const) {
    const text = fieldText(rec, plan, field);
    if (text !== '') product[field] = text;
  }
  product.extra = extraOf(rec, plan, leaveOut);
  return { ok: true, product, line };
}

/** A product with the line it starts on, or a skipped row. */
export type BuiltRow = { ok: true; product: FeedProduct; line: number } | FeedRowSkip;
