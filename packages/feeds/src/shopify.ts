/**
 * The Shopify product CSV export: one row per variant and extra rows per image under one
 * `Handle`. Title, Vendor, Type, Tags and Status are on the first row only. The rows of a handle
 * fold into one product: its first image by `Image Position`, its variants collected.
 */
import { skip } from './codes.js';
import { type ColumnPlan, type FieldMap, normaliseName, planColumns } from './columns.js';
import { parsePrice } from './price.js';
import { type BuildContext, type BuiltRow, completeProduct, type RawRecord, type RawValue } from './product.js';
import type { Price } from './types.js';

/** A product has at most this many variants and images (Shopify's own limits: 100 and 250). */
const MAX_PARTS = 250;

/** True for a Shopify export header: `Handle` plus one of its variant or image columns. */
export function isShopifyHeader(names: readonly string[]): boolean {
  const keys = new Set(names.map(normaliseName));
  return keys.has('handle') && (keys.has('variantprice') || keys.has('imagesrc') || keys.has('option1name'));
}

/** Columns that describe one variant or one image, never the product: left out of `extra`. */
function isRowColumn(name: string): boolean {
  const key = normaliseName(name);
  return (
    key === 'handle' ||
    key.startsWith('variant') ||
    key.startsWith('image') ||
    /^option\d(name|value|linkedto)$/.test(key)
  );
}

interface Group {
  handle: string;
  first: RawRecord;
  images: { src: string; position: number; order: number }[];
  variants: { title: string; price?: string; compareAt?: string; qty?: number; policy?: string }[];
}

function amountOf(price: Price): number {
  return Number('amount' in price ? price.amount : price.text);
}

/** Folds consecutive rows of one handle; `push` returns the previous product when the handle changes. */
export class ShopifyFolder {
  readonly #plan: ColumnPlan;
  readonly #ctx: BuildContext;
  readonly #col: Record<string, number>;
  readonly #optionCols: number[] = [];
  #group: Group | undefined;

  constructor(header: readonly string[], map: FieldMap, ctx: BuildContext) {
    this.#plan = planColumns(header, { ...map, id: map.id ?? 'Handle' });
    this.#ctx = ctx;
    this.#col = {};
    header.forEach((name, i) => {
      const key = normaliseName(name);
      if (!(key in this.#col)) this.#col[key] = i;
    });
    for (let n = 1; n <= 3; n++) {
      const value = this.#col[`option${n}value`];
      if (value !== undefined) this.#optionCols.push(value);
    }
  }

  #text(rec: RawRecord, key: string): string {
    const i = this.#col[key];
    if (i === undefined) return '';
    const v: RawValue | undefined = rec.values[i];
    return (typeof v === 'string' ? v : (v?.[0] ?? '')).trim();
  }

  /** Adds a row. Returns the folded previous product (or its skip) when this row starts another handle. */
  push(rec: RawRecord): BuiltRow | undefined {
    const handle = this.#text(rec, 'handle');
    if (handle === '') return skip(rec.line, 'FEED_ROW_NO_ID', 'a row without a Handle');
    let done: BuiltRow | undefined;
    if (this.#group !== undefined && this.#group.handle !== handle) done = this.flush();
    if (this.#group === undefined) this.#group = { handle, first: rec, images: [], variants: [] };
    const g = this.#group;
    const src = this.#text(rec, 'imagesrc');
    if (src !== '' && g.images.length < MAX_PARTS && !g.images.some((im) => im.src === src)) {
      const position = Number(this.#text(rec, 'imageposition'));
      g.images.push({
        src,
        position: Number.isFinite(position) && position > 0 ? position : Infinity,
        order: g.images.length,
      });
    }
    const variantImage = this.#text(rec, 'variantimage');
    if (variantImage !== '' && g.images.length < MAX_PARTS && !g.images.some((im) => im.src === variantImage)) {
      g.images.push({ src: variantImage, position: Infinity, order: MAX_PARTS + g.images.length });
    }
    const price = this.#text(rec, 'variantprice');
    const options = this.#optionCols
      .map((c) => {
        const v = rec.values[c];
        return (typeof v === 'string' ? v : (v?.[0] ?? '')).trim();
      })
      .filter((v) => v !== '');
    if ((price !== '' || options.length > 0) && g.variants.length < MAX_PARTS) {
      const variant: Group['variants'][number] = { title: options.join(' / ') };
      if (price !== '') variant.price = price;
      const compareAt = this.#text(rec, 'variantcompareatprice');
      if (compareAt !== '') variant.compareAt = compareAt;
      const qty = this.#text(rec, 'variantinventoryqty');
      if (qty !== '' && Number.isFinite(Number(qty))) variant.qty = Number(qty);
      const policy = this.#text(rec, 'variantinventorypolicy');
      if (policy !== '') variant.policy = policy.toLowerCase();
      g.variants.push(variant);
    }
    return done;
  }

  /** The product being folded, if any. */
  flush(): BuiltRow | undefined {
    const g = this.#group;
    this.#group = undefined;
    if (g === undefined) return undefined;
    const line = g.first.line;
    const status = this.#text(g.first, 'status').toLowerCase();
    if (status === 'draft' || status === 'archived') {
      return skip(line, 'FEED_ROW_INACTIVE', `product ${g.handle} is ${status}`);
    }
    const images = [...g.images].sort((a, b) => a.position - b.position || a.order - b.order).map((im) => im.src);
    const mappedId = this.#plan.fields.id
      .map((i) => g.first.values[i])
      .find((v) => typeof v === 'string' && v.trim() !== '');
    const id = typeof mappedId === 'string' ? mappedId.trim() : g.handle;
    const built = completeProduct(g.first, this.#plan, this.#ctx, id, images[0] ?? '', images.slice(1), isRowColumn);
    if (!built.ok) return built;
    const product = built.product;
    const priced = g.variants.find((v) => v.price !== undefined);
    if (priced?.price !== undefined) {
      const price = parsePrice(priced.price, this.#ctx.currency);
      const compareAt = priced.compareAt === undefined ? undefined : parsePrice(priced.compareAt, this.#ctx.currency);
      if (compareAt !== undefined && amountOf(compareAt) > amountOf(price)) {
        product.price = compareAt;
        product.salePrice = price;
      } else {
        product.price = price;
        delete product.salePrice;
      }
    }
    const real = g.variants.filter((v) => v.title !== '' && v.title !== 'Default Title');
    if (real.length > 0) {
      product.variants = real.map((v) => ({
        title: v.title,
        ...(v.price === undefined ? {} : { price: parsePrice(v.price, this.#ctx.currency) }),
      }));
    }
    if (product.availability === undefined && g.variants.some((v) => v.qty !== undefined)) {
      const available = g.variants.some((v) => (v.qty ?? 0) > 0 || v.policy === 'continue');
      product.availability = available ? 'in_stock' : 'out_of_stock';
    }
    return built;
  }
}
