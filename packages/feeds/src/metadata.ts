/**
 * A feed product as catalog metadata (core ItemMetadata): what answers show and filters match.
 */
import type { ItemMetadata } from '@lookalike/core';
import { formatPrice } from './price.js';
import type { FeedProduct } from './types.js';

/** Extra columns longer than this (descriptions, HTML bodies) stay out of the metadata. */
const MAX_EXTRA_CHARS = 256;

const KNOWN_KEYS = new Set([
  'title',
  'link',
  'price',
  'priceAmount',
  'priceCurrency',
  'salePrice',
  'salePriceAmount',
  'salePriceCurrency',
  'brand',
  'availability',
  'color',
  'productType',
  'gender',
  'ageGroup',
  'category',
  'groupId',
  'imageUrl',
  'variants',
]);

function set(meta: ItemMetadata, key: string, value: string | undefined): void {
  if (value === undefined || value === '') return;
  Object.defineProperty(meta, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The metadata stored for a feed item: title, link, price (display "49.90 EUR", or the feed's
 * text when it is not unambiguous), priceAmount, priceCurrency, salePrice (display) with
 * salePriceAmount/salePriceCurrency, brand, availability, color, productType, gender, ageGroup,
 * category, groupId, imageUrl, variants (their titles, "S / Red, M / Red"), and the feed's other
 * columns up to 256 characters each (under their own names, never over a known key).
 */
export function productMetadata(p: FeedProduct): ItemMetadata {
  const meta: ItemMetadata = {};
  set(meta, 'title', p.title);
  set(meta, 'link', p.link);
  if (p.price !== undefined) {
    set(meta, 'price', formatPrice(p.price));
    if ('amount' in p.price) {
      set(meta, 'priceAmount', p.price.amount);
      set(meta, 'priceCurrency', p.price.currency);
    }
  }
  if (p.salePrice !== undefined) {
    set(meta, 'salePrice', formatPrice(p.salePrice));
    if ('amount' in p.salePrice) {
      set(meta, 'salePriceAmount', p.salePrice.amount);
      set(meta, 'salePriceCurrency', p.salePrice.currency);
    }
  }
  set(meta, 'brand', p.brand);
  set(meta, 'availability', p.availability);
  set(meta, 'color', p.color);
  set(meta, 'productType', p.productType);
  set(meta, 'gender', p.gender);
  set(meta, 'ageGroup', p.ageGroup);
  set(meta, 'category', p.category);
  set(meta, 'groupId', p.groupId);
  set(meta, 'imageUrl', p.imageUrl);
  if (p.variants !== undefined && p.variants.length > 0) {
    const titles = p.variants.map((v) => v.title).join(', ');
    set(meta, 'variants', titles.length > MAX_EXTRA_CHARS ? `${titles.slice(0, MAX_EXTRA_CHARS - 1)}…` : titles);
  }
  for (const [key, value] of Object.entries(p.extra)) {
    if (KNOWN_KEYS.has(key) || Object.hasOwn(meta, key) || value.length > MAX_EXTRA_CHARS) continue;
    set(meta, key, value);
  }
  return meta;
}
