/**
 * Prices as amount plus ISO 4217 currency, only when the text says so unambiguously.
 * A locale-ambiguous value ("1,234" or "1.234,5" without a currency, "$12" without knowing which
 * dollar) is kept as text: never guessed.
 */
import type { Price } from './types.js';

const ISO_CODES = new Set(Intl.supportedValuesOf('currency'));

/** Symbols that name exactly one currency ("$", "¥", "kr" name several: they stay text). */
const SYMBOLS: Readonly<Record<string, string>> = {
  '€': 'EUR',
  '£': 'GBP',
  '₹': 'INR',
  '₩': 'KRW',
  '₽': 'RUB',
  '₺': 'TRY',
  '₪': 'ILS',
  '₫': 'VND',
  '₱': 'PHP',
  '₴': 'UAH',
  '₦': 'NGN',
  '₲': 'PYG',
  '฿': 'THB',
  zł: 'PLN',
  US$: 'USD',
  C$: 'CAD',
  CA$: 'CAD',
  A$: 'AUD',
  AU$: 'AUD',
  NZ$: 'NZD',
  HK$: 'HKD',
  S$: 'SGD',
  R$: 'BRL',
  MX$: 'MXN',
};

const minorDigitsCache = new Map<string, number>();

/** Digits after the decimal point in `currency` (2 for EUR, 0 for JPY, 3 for KWD). */
function minorDigits(currency: string): number {
  let n = minorDigitsCache.get(currency);
  if (n === undefined) {
    n = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorDigitsCache.set(currency, n);
  }
  return n;
}

function currencyOf(token: string): string | undefined {
  const symbol = SYMBOLS[token];
  if (symbol !== undefined) return symbol;
  const upper = token.toUpperCase();
  return /^[A-Z]{3}$/.test(upper) && ISO_CODES.has(upper) ? upper : undefined;
}

/** Group separators: comma, dot, space, no-break spaces, apostrophes (Swiss "1'234.50"). */
const GROUP = /[,.\u0020\u00a0\u202f'’]/;

/**
 * The decimal amount of `text` in `currency` ("49.90"), or undefined when the digits are
 * ambiguous or not an amount. With one separator followed by exactly three digits it is a
 * thousands separator, unless the currency itself has three decimals (then ambiguous).
 */
function amountOf(text: string, currency: string): string | undefined {
  if (!/^\d[\d,.\u0020\u00a0\u202f'’]*$/.test(text) || !/\d$/.test(text)) return undefined;
  const seps = [...text.matchAll(/[^\d]+/g)].map((m) => m[0]);
  if (seps.some((s) => s.length !== 1 || !GROUP.test(s))) return undefined;
  const groups = text.split(/[^\d]/);
  let integer: string;
  let fraction = '';
  const last = seps.at(-1);
  const distinct = new Set(seps);
  if (last === undefined) {
    integer = text;
  } else {
    const lastGroup = groups.at(-1) as string;
    // The decimal separator (if any) is the last one, and only "." or "," can be it.
    let decimal: boolean;
    if (distinct.size > 1) decimal = true;
    else if (seps.length > 1) decimal = false;
    else if (last !== '.' && last !== ',') decimal = false;
    else if (lastGroup.length === 3) {
      if (minorDigits(currency) === 3) return undefined;
      decimal = false;
    } else decimal = true;
    if (decimal && last !== '.' && last !== ',') return undefined;
    const intGroups = decimal ? groups.slice(0, -1) : groups;
    const intSeps = decimal ? seps.slice(0, -1) : seps;
    if (new Set(intSeps).size > 1) return undefined;
    if (decimal && intSeps.includes(last)) return undefined;
    // Grouped digits: 1-3 digits, then groups of exactly three.
    if (intGroups.length > 1) {
      const [head, ...rest] = intGroups as [string, ...string[]];
      if (head.length < 1 || head.length > 3 || rest.some((g) => g.length !== 3)) return undefined;
    }
    integer = intGroups.join('');
    if (decimal) fraction = lastGroup;
  }
  integer = integer.replace(/^0+(?=\d)/, '');
  const digits = minorDigits(currency);
  if (fraction.length < digits) fraction = fraction.padEnd(digits, '0');
  return fraction === '' ? integer : `${integer}.${fraction}`;
}

/**
 * Parses a feed price: "49.90 EUR", "EUR 49,90", "€49.90", "49,90 €", "1.234,56 EUR",
 * "1 234,56 EUR", "15 USD". The amount comes back normalised ("1234.56"), padded to the
 * currency's decimals ("15.00"). Without a currency code or an unambiguous symbol (and without
 * `defaultCurrency`), or with ambiguous digits, the result is `{ text }` only.
 * @param defaultCurrency ISO code for a bare number (the Shopify export's `Variant Price`).
 */
export function parsePrice(text: string, defaultCurrency?: string): Price {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  const out: Price = { text: trimmed };
  if (trimmed === '') return out;
  // "<amount> <cur>", "<cur> <amount>", "<sym><amount>", "<amount><sym>".
  const m =
    /^(?<cur>[^\d\s,.-]{1,3}(?:\$)?)\s?(?<amount>\d[\d,.\u0020\u00a0\u202f'’]*)$/u.exec(trimmed) ??
    /^(?<amount>\d[\d,.\u0020\u00a0\u202f'’]*?)\s?(?<cur>[^\d\s,.-]{1,3}(?:\$)?)$/u.exec(trimmed);
  let currency: string | undefined;
  let amountText: string;
  if (m?.groups !== undefined) {
    currency = currencyOf(m.groups.cur as string);
    if (currency === undefined) return out;
    amountText = m.groups.amount as string;
  } else {
    const fallback = defaultCurrency === undefined ? undefined : currencyOf(defaultCurrency);
    if (fallback === undefined || !/^\d/.test(trimmed)) return out;
    currency = fallback;
    amountText = trimmed;
  }
  const amount = amountOf(amountText.trim(), currency);
  if (amount === undefined) return out;
  return { amount, currency, text: trimmed };
}

/** "49.90 EUR" for a parsed price, else the feed's text. */
export function formatPrice(price: Price): string {
  return 'amount' in price ? `${price.amount} ${price.currency}` : price.text;
}
