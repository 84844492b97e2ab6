/**
 * The collage's price line: an item with a price shows it (bold, in ink) under its name, before
 * the subtitle; without one the line is today's muted subtitle. A price change is a new tile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SimilarItem, WeightsInfo } from '@lookalike/core';
import { COLLAGE_LAYOUT, createCollageRenderer, renderCollage } from '@lookalike/render';
import sharp from 'sharp';

const weights: WeightsInfo = { source: 'untrained', md5: 'x', untrained: false, description: 'ResNet50 test' };

const item = (metadata: SimilarItem['metadata']): SimilarItem => ({
  rank: 1,
  id: 'p1',
  path: '/shop/p1.jpg',
  distance: 0.1,
  similarity: 0.95,
  metadata,
});

let loads = 0;
const loadImage = async (): Promise<Uint8Array> => {
  loads++;
  return sharp({ create: { width: 120, height: 160, channels: 3, background: { r: 200, g: 220, b: 240 } } })
    .png()
    .toBuffer();
};

/** The darkest pixel (0–255, min over channels) of the first tile's second label line, left part. */
async function darkestOfPriceLine(jpeg: Buffer): Promise<number> {
  const L = COLLAGE_LAYOUT;
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const top = L.headerHeight + L.tile + 40 - 11;
  let min = 255;
  for (let y = top; y < top + 12; y++) {
    for (let x = L.gap + 14; x < L.gap + 14 + 60; x++) {
      const i = (y * info.width + x) * info.channels;
      min = Math.min(min, data[i]!, data[i + 1]!, data[i + 2]!);
    }
  }
  return min;
}

const shirt = { title: 'Linen shirt', brand: 'Acme', articleType: 'Shirts', baseColour: 'Blue' };

test('GIVEN a price THEN it is drawn in ink under the name; without one the line stays muted', async () => {
  const withPrice = await renderCollage([item({ ...shirt, price: '49.90 EUR' })], { weights, loadImage });
  const without = await renderCollage([item(shirt)], { weights, loadImage });
  const inked = await darkestOfPriceLine(withPrice);
  const muted = await darkestOfPriceLine(without);
  assert.ok(inked < 70, `the price is dark ink (${inked})`);
  assert.ok(muted > 80, `the subtitle is muted grey (${muted})`);
  const meta = await sharp(withPrice).metadata();
  assert.equal(meta.format, 'jpeg');
});

test('GIVEN a changed price THEN the tile is drawn again; the same price is cached', async () => {
  const renderer = createCollageRenderer({ maxTiles: 8 });
  loads = 0;
  await renderer.render([item({ ...shirt, price: '49.90 EUR' })], { weights, loadImage });
  await renderer.render([item({ ...shirt, price: '49.90 EUR' })], { weights, loadImage });
  assert.equal(loads, 1);
  await renderer.render([item({ ...shirt, price: '39.90 EUR' })], { weights, loadImage });
  assert.equal(loads, 2, 'the price is part of the tile');
  await renderer.render([item({ ...shirt, price: '39.90 EUR', salePrice: '29.90 EUR' })], { weights, loadImage });
  assert.equal(loads, 3, 'a sale price too');
});
