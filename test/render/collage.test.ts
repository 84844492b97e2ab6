/**
 * The collage renderer's tile cache: repeated items are not decoded again, the cache is bounded
 * (LRU), unreadable images are retried, and caching never changes the picture.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { noCloseMatchNotice, type SimilarItem, untrainedNotice, type WeightsInfo } from '@lookalike/core';
import { collageSize, createCollageRenderer, renderCollage } from '@lookalike/render';
import sharp from 'sharp';

const weights: WeightsInfo = { source: 'untrained', md5: 'x', untrained: true, description: 'ResNet50 untrained' };

function item(id: string, rank: number, similarity = 0.9): SimilarItem {
  return {
    rank,
    id,
    path: `/catalog/${id}.png`,
    distance: 2 * (1 - similarity),
    similarity,
    metadata: { productDisplayName: `Item ${id} & <Co> "quoted"`, articleType: 'Shirts', baseColour: 'Blue' },
  };
}

/** A loadImage that draws a distinct picture per id and counts its calls per id. */
function countingLoader(failing: Set<string> = new Set()) {
  const calls = new Map<string, number>();
  const load = async (it: SimilarItem): Promise<Uint8Array> => {
    calls.set(it.id, (calls.get(it.id) ?? 0) + 1);
    if (failing.has(it.id)) throw new Error(`cannot read ${it.path}`);
    const shade = [...it.id].reduce((n, ch) => (n * 31 + ch.charCodeAt(0)) % 200, 7);
    return sharp({
      create: { width: 90 + shade, height: 160, channels: 3, background: { r: shade, g: 40, b: 200 - shade } },
    })
      .png()
      .toBuffer();
  };
  const total = () => [...calls.values()].reduce((a, b) => a + b, 0);
  return { load, calls, total };
}

const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => item(id, i + 1, 0.95 - 0.04 * i));

describe('collage renderer tile cache', () => {
  test('GIVEN the same results twice THEN the second render loads no catalog image and the JPEGs are identical', async () => {
    const renderer = createCollageRenderer({ maxTiles: 16 });
    const loader = countingLoader();
    const options = { weights, notices: [untrainedNotice()], loadImage: loader.load };
    const first = await renderer.render(six, options);
    assert.equal(loader.total(), 6);
    const second = await renderer.render(six, options);
    assert.equal(loader.total(), 6, 'no image was loaded again');
    assert.ok(second.equals(first), 'the cached render is byte-identical');
    assert.deepEqual(renderer.stats(), { tiles: 6, hits: 6, misses: 6 });

    const meta = await sharp(second).metadata();
    const expected = collageSize(6, 1);
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', expected.width, expected.height]);
  });

  test('GIVEN cached tiles with other ranks and similarities THEN the picture equals an uncached render', async () => {
    const renderer = createCollageRenderer({ maxTiles: 16 });
    const loader = countingLoader();
    await renderer.render(six, { weights, loadImage: loader.load });
    // Same items, new order, ranks and similarities: tiles come from the cache, labels are redrawn.
    const reordered = [...six].reverse().map((it, i) => ({ ...it, rank: i + 1, similarity: 0.99 - 0.1 * i }));
    const options = { weights, notices: [noCloseMatchNotice()], loadImage: loader.load };
    const cached = await renderer.render(reordered, options);
    assert.equal(loader.total(), 6, 'the reordered items came from the cache');
    const uncached = await renderCollage(reordered, options);
    assert.equal(loader.total(), 12, 'renderCollage keeps no tiles');
    assert.ok(cached.equals(uncached), 'cached and uncached renders are byte-identical');
  });

  test('GIVEN maxTiles 2 THEN the least recently used tile is evicted and the cache stays bounded', async () => {
    const renderer = createCollageRenderer({ maxTiles: 2 });
    const loader = countingLoader();
    const options = { weights, loadImage: loader.load };
    // One item per render: tiles of one render are cached in the order their decodes finish.
    await renderer.render([item('a', 1)], options);
    await renderer.render([item('b', 1)], options);
    await renderer.render([item('c', 1)], options); // evicts a
    assert.equal(renderer.stats().tiles, 2);
    await renderer.render([item('b', 1)], options); // cached
    assert.equal(loader.calls.get('b'), 1);
    await renderer.render([item('a', 1)], options); // evicted, so loaded again
    assert.equal(loader.calls.get('a'), 2);
    assert.equal(renderer.stats().tiles, 2);
  });

  test('GIVEN an unreadable image THEN its tile is not cached and the image is tried again next time', async () => {
    const failing = new Set(['b']);
    const renderer = createCollageRenderer();
    const loader = countingLoader(failing);
    const options = { weights, loadImage: loader.load };
    const results = [item('a', 1), item('b', 2)];
    const broken = await renderer.render(results, options);
    await renderer.render(results, options);
    assert.equal(loader.calls.get('a'), 1);
    assert.equal(loader.calls.get('b'), 2, 'the failed image is retried');
    failing.clear();
    const fixed = await renderer.render(results, options);
    assert.equal(loader.calls.get('b'), 3);
    assert.ok(!fixed.equals(broken), 'the tile now shows the image instead of "image unavailable"');
    await renderer.render(results, options);
    assert.equal(loader.calls.get('b'), 3, 'and is cached from then on');
  });

  test('GIVEN clear(), a changed name or maxTiles 0 THEN the images are loaded again', async () => {
    const renderer = createCollageRenderer();
    const loader = countingLoader();
    const options = { weights, loadImage: loader.load };
    await renderer.render([item('a', 1)], options);
    renderer.clear();
    assert.equal(renderer.stats().tiles, 0);
    await renderer.render([item('a', 1)], options);
    assert.equal(loader.calls.get('a'), 2);
    const renamed = { ...item('a', 1), metadata: { productDisplayName: 'Renamed' } };
    await renderer.render([renamed], options);
    assert.equal(loader.calls.get('a'), 3, 'the label is part of the tile, so a new name is a new tile');

    const uncached = createCollageRenderer({ maxTiles: 0 });
    await uncached.render([item('z', 1)], options);
    await uncached.render([item('z', 1)], options);
    assert.equal(loader.calls.get('z'), 2);
    assert.equal(uncached.stats().tiles, 0);
  });

  test('GIVEN concurrent renders of the same items THEN each image is loaded once', async () => {
    const renderer = createCollageRenderer();
    const loader = countingLoader();
    const options = { weights, loadImage: loader.load };
    const [x, y] = await Promise.all([renderer.render(six, options), renderer.render(six, options)]);
    assert.equal(loader.total(), 6);
    assert.ok(x.equals(y));
  });
});
