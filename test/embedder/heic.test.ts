/**
 * HEIC/HEIF photos (the iPhone default) with real fixtures made by `heif-enc`: the sniffer calls
 * them decodable, the decode path reads them through libheif-js (pixel limit from the container
 * first), the inspector reads their header, the catalog picks up `.heic` files, and a HEIC query
 * finds the same top-1 as the same photo in PNG through the real service.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CatalogReindexSummary } from '@lookalike/catalog';
import { DEFAULT_IMAGE_LIMITS, decodableKind, imageTooLargeSentence, sniff, USER_MESSAGES } from '@lookalike/core';
import { decodeRgb, preprocessImage, readDisplayableImage } from '@lookalike/embedder';
import { createCollageRenderer, createImageInspector } from '@lookalike/render';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { encodeHeic } from '../helpers/heic.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { raw } from './fixtures.js';

/** Mean absolute difference of two RGB buffers of the same size, per channel value (0–255). */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** A smooth 160×120 test picture (HEVC at q90 keeps it close to the source). */
function gradient(width = 160, height = 120) {
  return raw(width, height, 3, (x, y) => [
    Math.round((x / width) * 255),
    Math.round((y / height) * 255),
    Math.round(((x + y) / (width + height)) * 255),
  ]);
}

describe('HEIC decoding (libheif-js)', () => {
  let png: Buffer;
  let heic: Buffer;

  before(async () => {
    const picture = gradient();
    png = await sharp(picture.data, { raw: picture.info }).png().toBuffer();
    heic = await encodeHeic(png, { quality: 90 });
  });

  test('GIVEN a heif-enc HEIC THEN core sniffs it as heic and calls it decodable (one sniffer)', () => {
    assert.deepEqual(sniff(heic), { kind: 'heic', image: true });
    assert.equal(decodableKind(heic), 'heic');
  });

  test('GIVEN a HEIC THEN decodeRgb gives the full-size picture, close to the PNG it was made from', async () => {
    const fromHeic = await decodeRgb(heic);
    const fromPng = await decodeRgb(png);
    assert.equal(fromHeic.width, 160);
    assert.equal(fromHeic.height, 120);
    assert.equal(fromHeic.data.length, 160 * 120 * 3);
    const diff = meanAbsDiff(fromHeic.data, fromPng.data);
    assert.ok(diff < 4, `mean difference ${diff.toFixed(2)} per channel value`);
    // And all the way to the network input.
    const tensor = await preprocessImage(heic);
    assert.equal(tensor.length, 224 * 224 * 3);
    assert.ok(tensor.every(Number.isFinite));
  });

  test('GIVEN a HEIC with transparency THEN it is flattened onto white, like every other format', async () => {
    // Left half opaque red, right half fully transparent.
    const rgba = raw(64, 32, 4, (x) => (x < 32 ? [255, 0, 0, 255] : [0, 0, 255, 0]));
    const withAlpha = await encodeHeic(await sharp(rgba.data, { raw: rgba.info }).png().toBuffer());
    const out = await decodeRgb(withAlpha);
    const at = (x: number, y: number) => Array.from(out.data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3));
    const [r, g, b] = at(8, 16) as [number, number, number];
    assert.ok(r > 200 && g < 60 && b < 60, `opaque red stays red: ${[r, g, b]}`);
    for (const v of at(56, 16)) assert.ok(v > 230, `transparent becomes white: ${at(56, 16)}`);
  });

  test('GIVEN a HEIC over the pixel limit THEN IMAGE_TOO_LARGE from the container, with its size', async () => {
    const limits = { maxBytes: DEFAULT_IMAGE_LIMITS.maxBytes, maxPixels: 160 * 120 - 1 };
    const err = await rejectsWith(decodeRgb(heic, limits), 'IMAGE_TOO_LARGE');
    assert.equal(err.details.width, 160);
    assert.equal(err.details.height, 120);
    assert.equal(err.userMessage, imageTooLargeSentence(limits));
  });

  test('GIVEN a truncated HEIC or a bare ftyp box THEN IMAGE_DECODE_FAILED, never UNSUPPORTED_IMAGE', async () => {
    const truncated = heic.subarray(0, Math.floor(heic.length / 2));
    const err = await rejectsWith(decodeRgb(truncated), 'IMAGE_DECODE_FAILED');
    assert.equal(err.details.format, 'heic');
    assert.equal(err.userMessage, USER_MESSAGES.IMAGE_DECODE_FAILED);
    const bare = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
      Buffer.alloc(64, 1),
    ]);
    await rejectsWith(decodeRgb(bare), 'IMAGE_DECODE_FAILED');
  });

  test('GIVEN a HEIC THEN the inspector reads its size from the header and applies the pixel limit', async () => {
    const inspector = createImageInspector({ maxBytes: 1024 * 1024, maxPixels: 1_000_000 });
    assert.deepEqual(await inspector.inspect(heic), { kind: 'heic', width: 160, height: 120, pages: 1 });
    const strict = createImageInspector({ maxBytes: 1024 * 1024, maxPixels: 10_000 });
    const err = await rejectsWith(strict.inspect(heic), 'IMAGE_TOO_LARGE');
    assert.deepEqual([err.details.width, err.details.height], [160, 120]);
  });
});

describe('HEIC through the real service (untrained ResNet50 on ORT, SQLite, FAISS)', () => {
  let stack: TestStack;
  let heicItem: { id: string; png: Buffer; heic: Buffer };
  let summary: CatalogReindexSummary;

  before(async () => {
    // Result images load as the runtime loads them: HEIC files become JPEG for people to see.
    stack = await createTestStack({
      catalogSize: 16,
      reindex: false,
      service: { loadImage: (item) => readDisplayableImage(item.path) },
    });
    // One catalog photo is kept as an iPhone would store it: <id>.heic instead of <id>.jpg.
    const item = stack.items[3];
    assert.ok(item !== undefined);
    const png = await sharp(item.path).png().toBuffer();
    const heic = await encodeHeic(png);
    await writeFile(join(stack.imagesDir, `${item.id}.heic`), heic);
    await rm(item.path);
    heicItem = { id: item.id, png, heic };
    summary = await stack.catalog.reindex();
  });

  after(async () => {
    await stack?.close();
  });

  test('GIVEN a catalog folder with a .heic file THEN the reindex embeds it and queries find it', async () => {
    assert.equal(summary.failed, 0, `failed: ${summary.failedFiles.join(', ')}`);
    assert.equal(summary.size, 16);
    assert.ok(stack.catalog.items().some((i) => i.id === heicItem.id && i.path.endsWith('.heic')));
    for (const [name, query] of [
      ['png', heicItem.png],
      ['heic', heicItem.heic],
    ] as const) {
      const answer = await stack.service.findSimilar(query, { userId: name, excludeDuplicates: false });
      assert.equal(answer.results[0]?.id, heicItem.id, `the ${name} query finds the HEIC catalog item`);
    }
  });

  test('GIVEN the same photo as PNG and as HEIC THEN both queries find the same top-1', async () => {
    for (const item of stack.items.filter((i) => i.id !== heicItem.id).slice(0, 4)) {
      const png = await sharp(item.path).png().toBuffer();
      const heic = await encodeHeic(png);
      assert.equal(sniff(heic).kind, 'heic');
      const byPng = await stack.service.findSimilar(png, { userId: 'png', excludeDuplicates: false });
      const byHeic = await stack.service.findSimilar(heic, { userId: 'heic', excludeDuplicates: false });
      assert.equal(byPng.results[0]?.id, item.id, 'the PNG finds the photo itself');
      assert.equal(byHeic.results[0]?.id, byPng.results[0]?.id, `HEIC of ${item.id}: same top-1 as its PNG`);
      assert.ok((byHeic.results[0]?.similarity ?? 0) > 0.95, `similarity ${byHeic.results[0]?.similarity}`);
    }
  });

  test('GIVEN a HEIC catalog item in an answer THEN its result image is a JPEG people can see, and its collage tile is the photo, not the placeholder', async () => {
    const answer = await stack.service.findSimilar(heicItem.png, { userId: 'display', excludeDuplicates: false });
    const top = answer.results[0];
    assert.equal(top?.id, heicItem.id);
    const image = (await answer.images()).find((i) => i.rank === top.rank);
    assert.equal(image?.contentType, 'image/jpeg');
    assert.equal(sniff(image.bytes).kind, 'jpeg');
    const [shown, original] = await Promise.all([sharp(image.bytes).metadata(), sharp(heicItem.png).metadata()]);
    assert.deepEqual([shown.width, shown.height], [original.width, original.height]);
    // The same collage from the raw files: sharp cannot decode the HEIC tile, so it draws the placeholder.
    const renderer = createCollageRenderer();
    const opts = { weights: answer.weights, notices: answer.notices };
    const fromRaw = await renderer.render(answer.results, { ...opts, loadImage: (item) => readFile(item.path) });
    const converted = await renderer.render(answer.results, {
      ...opts,
      loadImage: (item) => readDisplayableImage(item.path),
    });
    assert.ok(!fromRaw.equals(converted), 'the HEIC tile is drawn from the photo, not the placeholder');
  });
});
