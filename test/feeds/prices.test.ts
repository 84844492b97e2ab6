/**
 * Prices and availability: parsed only when unambiguous, never guessed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatPrice, normaliseAvailability, parsePrice } from '@lookalike/feeds';

describe('parsePrice', () => {
  test('GIVEN an amount with an ISO code on either side THEN amount and currency', () => {
    assert.deepEqual(parsePrice('49.90 EUR'), { amount: '49.90', currency: 'EUR', text: '49.90 EUR' });
    assert.deepEqual(parsePrice('EUR 49,90'), { amount: '49.90', currency: 'EUR', text: 'EUR 49,90' });
    assert.deepEqual(parsePrice('15.00 USD'), { amount: '15.00', currency: 'USD', text: '15.00 USD' });
    assert.deepEqual(parsePrice(' 15 usd '), { amount: '15.00', currency: 'USD', text: '15 usd' });
    assert.deepEqual(parsePrice('1500 JPY'), { amount: '1500', currency: 'JPY', text: '1500 JPY' });
  });

  test('GIVEN a symbol that names one currency THEN it is used; "$" names several and stays text', () => {
    assert.deepEqual(parsePrice('€49.90'), { amount: '49.90', currency: 'EUR', text: '€49.90' });
    assert.deepEqual(parsePrice('49,90 €'), { amount: '49.90', currency: 'EUR', text: '49,90 €' });
    assert.deepEqual(parsePrice('£5'), { amount: '5.00', currency: 'GBP', text: '£5' });
    assert.deepEqual(parsePrice('US$ 12.5'), { amount: '12.50', currency: 'USD', text: 'US$ 12.5' });
    assert.deepEqual(parsePrice('$12.00'), { text: '$12.00' });
    assert.deepEqual(parsePrice('¥1200'), { text: '¥1200' });
  });

  test('GIVEN grouped digits THEN the last separator is the decimal one when both kinds appear', () => {
    assert.equal(amountOf('1.234,56 EUR'), '1234.56');
    assert.equal(amountOf('1,234.56 GBP'), '1234.56');
    assert.equal(amountOf('1 234,56 EUR'), '1234.56');
    assert.equal(amountOf('1\u00a0234,56 EUR'), '1234.56');
    assert.equal(amountOf("CHF 1'234.50"), '1234.50');
    assert.equal(amountOf('1,234,567 USD'), '1234567.00');
    assert.equal(amountOf('1.234,5 EUR'), '1234.50');
  });

  test('GIVEN one separator and three digits THEN thousands for a two-decimal currency, ambiguous for a three-decimal one', () => {
    assert.equal(amountOf('1,234 USD'), '1234.00');
    assert.equal(amountOf('1.234 EUR'), '1234.00');
    assert.deepEqual(parsePrice('1,234 KWD'), { text: '1,234 KWD' });
  });

  test('GIVEN no currency, or digits that are not an amount THEN only the text', () => {
    for (const text of [
      '1,234',
      '1.234,5',
      '49.90',
      '12.3.4 EUR',
      '1,23,456 INR',
      '-5 EUR',
      'from 10 EUR',
      '10 XYZ',
      '',
    ]) {
      assert.deepEqual(parsePrice(text), { text: text.trim() }, text);
    }
  });

  test('GIVEN a default currency (Shopify exports) THEN a bare number gets it; a code in the text still wins', () => {
    assert.deepEqual(parsePrice('49.90', 'EUR'), { amount: '49.90', currency: 'EUR', text: '49.90' });
    assert.deepEqual(parsePrice('10 USD', 'EUR'), { amount: '10.00', currency: 'USD', text: '10 USD' });
    assert.deepEqual(parsePrice('about 5', 'EUR'), { text: 'about 5' });
  });

  test('GIVEN parsed and unparsed prices THEN formatPrice shows "<amount> <CUR>" or the text', () => {
    assert.equal(formatPrice(parsePrice('EUR 49,9')), '49.90 EUR');
    assert.equal(formatPrice(parsePrice('$12')), '$12');
  });
});

function amountOf(text: string): string | undefined {
  const p = parsePrice(text);
  return 'amount' in p ? p.amount : undefined;
}

describe('normaliseAvailability', () => {
  test('GIVEN Merchant, older, schema.org and Shopify-ish spellings THEN the four values', () => {
    const cases: [string, string | undefined][] = [
      ['in_stock', 'in_stock'],
      ['in stock', 'in_stock'],
      ['In Stock', 'in_stock'],
      ['https://schema.org/InStock', 'in_stock'],
      ['out of stock', 'out_of_stock'],
      ['out-of-stock', 'out_of_stock'],
      ['http://schema.org/OutOfStock', 'out_of_stock'],
      ['sold out', 'out_of_stock'],
      ['pre-order', 'preorder'],
      ['preorder', 'preorder'],
      ['backorder', 'backorder'],
      ['maybe', undefined],
      ['', undefined],
    ];
    for (const [text, want] of cases) assert.equal(normaliseAvailability(text), want, text);
  });
});
