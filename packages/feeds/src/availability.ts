/**
 * Availability values as Google Merchant Center spells them today, from the older and the
 * schema.org spellings feeds still use.
 */
import type { Availability } from './types.js';

const KNOWN: Readonly<Record<string, Availability>> = {
  in_stock: 'in_stock',
  instock: 'in_stock',
  available: 'in_stock',
  available_for_order: 'in_stock',
  limited_availability: 'in_stock',
  limitedavailability: 'in_stock',
  onlineonly: 'in_stock',
  online_only: 'in_stock',
  instoreonly: 'in_stock',
  in_store_only: 'in_stock',
  out_of_stock: 'out_of_stock',
  outofstock: 'out_of_stock',
  sold_out: 'out_of_stock',
  soldout: 'out_of_stock',
  discontinued: 'out_of_stock',
  not_available: 'out_of_stock',
  unavailable: 'out_of_stock',
  preorder: 'preorder',
  pre_order: 'preorder',
  presale: 'preorder',
  backorder: 'backorder',
  back_order: 'backorder',
};

/**
 * `in_stock`, `out_of_stock`, `preorder` or `backorder` for "in stock", "In_Stock", "out of stock",
 * "pre-order", "https://schema.org/InStock" …; undefined for anything else (kept out of the
 * metadata rather than guessed).
 */
export function normaliseAvailability(text: string): Availability | undefined {
  let key = text.trim().toLowerCase();
  const schema = /^https?:\/\/schema\.org\/(.+)$/.exec(key);
  if (schema !== null) key = schema[1] as string;
  key = key.replace(/[\s-]+/g, '_');
  return KNOWN[key];
}
