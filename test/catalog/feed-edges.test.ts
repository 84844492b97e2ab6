/**
 * Feed catalogs at their edges, on small shops (real SQLite, FAISS, ONNX Runtime, fetcher):
 * a model change re-embeds from the image cache (304s, no download) into the shadow and swaps;
 * the mass-removal guard of a feed (refused with the count, confirmed, refused again past the
 * confirmed count, then removed with the cache files); a local feed with image files beside it
 * and a column map (a path outside the feed's folder and a missing file fail with their codes);
 * and the feeds that cannot be read at all (FEED_INVALID, nothing changed) or are misconfigured
 * (CONFIG_INVALID).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Catalog, openCatalog } from '@lookalike/catalog';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { createFetcher, createHostQueue } from '@lookalike/fetch';
import { BROKEN_IMAGES, type FeedServer, startFeedServer } from '../feeds/fixtures/feed-server.ts';
import { rejectsWith } from '../helpers/assert.ts';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type CountingEmbedder, countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-feed-edges-${process.pid}`);
const PRODUCTS = 40;
const FAILING = BROKEN_IMAGES.missing + BROKEN_IMAGES.html + BROKEN_IMAGES.stall + BROKEN_IMAGES.oversize;
const ITEMS = PRODUCTS - FAILING;
const WORKING_URLS = ITEMS - 1;

let server: FeedServer;
let real: ImageEmbedder;
let emb: CountingEmbedder;
let fetcher: ReturnType<typeof createFetcher>;
let hostQueue: ReturnType<typeof createHostQueue>;
let local: TestCatalog;

async function cacheFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, 'image-cache');
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const sub of await readdir(dir)) out.push(...(await readdir(join(dir, sub))));
  return out;
}

before(async () => {
  server = await startFeedServer({ count: PRODUCTS, oversizeBytes: 512 * 1024 });
  real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 4 });
  emb = countingEmbedder(real);
  fetcher = createFetcher({
    allowedHosts: ['127.0.0.1'],
    allowPrivate: true,
    limits: { maxBytes: 256 * 1024, maxPixels: 40_000_000 },
    timeoutMs: 1_000,
  });
  hostQueue = createHostQueue({ perHost: 4, retries: 0 });
  local = await makeTestCatalog(join(ROOT, 'local-src'), { count: 6 });
});

after(async () => {
  await fetcher?.close();
  await real?.dispose();
  await server?.close();
  await rm(ROOT, { recursive: true, force: true });
});

describe('feed catalog over HTTP: model change and the mass-removal guard', () => {
  const dataDir = join(ROOT, 'http');
  let catalog: Catalog;
  const open = (extra: Partial<Parameters<typeof openCatalog>[0]> = {}) =>
    openCatalog({
      dataDir,
      feed: { source: server.feedUrl('jsonl') },
      fetcher,
      hostQueue,
      embedder: emb,
      batchSize: 4,
      ...extra,
    });

  after(() => catalog?.close());

  it('GIVEN a feed catalog THEN the first run indexes the working products', async () => {
    catalog = await open();
    const s = await catalog.reindex();
    assert.equal(s.added, ITEMS);
    assert.equal(s.embedded, WORKING_URLS);
    assert.equal((await cacheFiles(dataDir)).length, WORKING_URLS);
  });

  it('GIVEN other weights THEN every image is re-embedded from the cache with 304s into the shadow, then swapped in', async () => {
    await catalog.close();
    const other = countingEmbedder(real, { md5: 'f'.repeat(32), source: 'file' });
    catalog = await open({ embedder: other, allowModelMismatch: true });
    assert.equal(catalog.info().modelMismatch, true);
    server.resetStats();
    const s = await catalog.reindex();
    assert.equal(s.embedded, WORKING_URLS);
    assert.equal(other.embedded, WORKING_URLS);
    assert.equal(s.downloads, 0, 'the cached bytes are current (304)');
    assert.equal(s.notModified, WORKING_URLS);
    assert.equal(server.stats.images200, BROKEN_IMAGES.oversize, 'only the oversize bodies were sent again');
    assert.equal(catalog.info().modelMismatch, false);
    assert.equal(catalog.size(), ITEMS);
    const top = catalog.search(catalog.vectorOf('sku-0002')!, { k: 1, excludeDuplicates: false })[0];
    assert.equal(top?.id, 'sku-0002');
    assert.ok(existsSync(top.path));
    await catalog.close();
    catalog = await open({ embedder: other });
  });

  it('GIVEN a feed that lists none of the products THEN the run is refused and nothing changes', async () => {
    for (const p of server.products) server.drop(p.id);
    const err = await rejectsWith(catalog.reindex(), 'REINDEX_MASS_REMOVAL');
    assert.equal(err.details.wouldRemove, ITEMS);
    assert.equal(err.details.total, ITEMS);
    assert.equal(err.details.feed, server.feedUrl('jsonl'));
    assert.match(err.userMessage, /lists none of them/);
    assert.equal(catalog.size(), ITEMS);
    assert.equal((await cacheFiles(dataDir)).length, WORKING_URLS);
  });

  it('GIVEN a confirmed count below what the feed would remove THEN it is refused again with the confirmed count', async () => {
    const err = await rejectsWith(
      catalog.reindex(undefined, { allowRemovals: true, maxRemovals: 3 }),
      'REINDEX_MASS_REMOVAL',
    );
    assert.equal(err.details.confirmed, 3);
    assert.equal(err.details.wouldRemove, ITEMS);
    assert.equal(catalog.size(), ITEMS);
  });

  it('GIVEN allowRemovals THEN every product is removed and so are their cache files', async () => {
    const s = await catalog.reindex(undefined, { allowRemovals: true });
    assert.equal(s.removed, ITEMS);
    assert.equal(catalog.size(), 0);
    assert.deepEqual(await cacheFiles(dataDir), []);
  });
});

describe('local feed files', () => {
  const dataDir = join(ROOT, 'local-data');
  const feedDir = join(ROOT, 'local-feed');
  let catalog: Catalog | undefined;

  after(() => catalog?.close());

  it('GIVEN a CSV beside its image files, with a mapped image column THEN its products are items; a path outside its folder and a missing file fail', async () => {
    await mkdir(join(feedDir, 'pics'), { recursive: true });
    const lines = ['sku,name,Picture,price,availability'];
    for (const [i, item] of local.items.entries()) {
      await copyFile(join(local.imagesDir, item.file), join(feedDir, 'pics', item.file));
      lines.push(`p${i},Item ${i},pics/${item.file},${10 + i}.00 EUR,in stock`);
    }
    lines.push('outside,Outside,../local-src/images/x.jpg,1.00 EUR,in stock');
    lines.push('gone,Gone,pics/missing.jpg,1.00 EUR,in stock');
    const file = join(feedDir, 'products.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    catalog = await openCatalog({
      dataDir,
      feed: { source: file, map: { id: 'sku', title: 'name', imageUrl: 'Picture' } },
      embedder: emb,
      batchSize: 4,
    });
    const s = await catalog.reindex();
    assert.equal(s.added, local.items.length);
    assert.deepEqual(s.failuresByCode, {
      FEED_ROW_BAD_URL: { count: 1, first: ['outside'] },
      FILE_NOT_FOUND: { count: 1, first: ['gone'] },
    });
    assert.equal(s.downloads, 0);
    const top = catalog.search(catalog.vectorOf('p2')!, { k: 1, excludeDuplicates: false })[0];
    assert.equal(top?.metadata.title, 'Item 2');
    assert.equal(top?.metadata.price, '12.00 EUR');
    assert.match(top?.path ?? '', /image-cache\/[0-9a-f]{2}\/[0-9a-f]{64}\.(jpg|png)$/);
  });

  it('GIVEN the feed file is gone THEN the run fails with FEED_INVALID and the catalog is unchanged', async () => {
    await rm(join(feedDir, 'products.csv'));
    const err = await rejectsWith(catalog!.reindex(), 'FEED_INVALID');
    assert.match(err.message, /products\.csv/);
    assert.equal(catalog!.size(), local.items.length);
  });

  it('GIVEN a column map naming an unknown field THEN opening says CONFIG_INVALID with the known fields', async () => {
    await catalog?.close();
    catalog = undefined;
    const err = await rejectsWith(
      openCatalog({ dataDir, feed: { source: join(feedDir, 'x.csv'), map: { picture: 'P' } as never }, embedder: emb }),
      'CONFIG_INVALID',
    );
    assert.match(err.message, /Unknown feed field "picture".*imageUrl/);
  });

  it('GIVEN a feed URL but no fetcher THEN the run says CONFIG_INVALID', async () => {
    catalog = await openCatalog({
      dataDir: join(ROOT, 'no-fetcher'),
      feed: { source: server.feedUrl('csv') },
      embedder: emb,
    });
    await rejectsWith(catalog.reindex(), 'CONFIG_INVALID');
  });

  it('GIVEN a feed URL that answers 404 THEN the run fails with FEED_INVALID naming the status', async () => {
    await catalog?.close();
    catalog = await openCatalog({
      dataDir: join(ROOT, 'feed-404'),
      feed: { source: `${server.origin}/feeds/nope.csv?token=secret` },
      fetcher,
      embedder: emb,
    });
    const err = await rejectsWith(catalog.reindex(), 'FEED_INVALID');
    assert.equal(err.details.status, 404);
    assert.doesNotMatch(err.message, /secret/, 'no query string in messages');
  });
});
