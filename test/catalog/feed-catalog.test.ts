/**
 * A feed catalog end to end against the loopback feed server (test/feeds/fixtures/feed-server.ts):
 * 300 generated products whose images are downloaded through the real fetcher and host queue,
 * embedded by ONNX Runtime (untrained weights) into real SQLite and FAISS. The 300-product index
 * is made once (before) and every test reuses it: exact failures by code (404, HTML, stall past
 * the timeout, over the byte limit, the feed's skipped rows), redirects and a shared image URL,
 * the rest searchable with title, link and price; then the incremental runs: unchanged (304s, no
 * download, no embedding), one image's bytes changed (one re-embed), one price changed (a relabel),
 * out-of-stock hidden, a product gone; then the same shop as CSV, JSON, JSONL, RSS, Atom, a
 * Shopify export and a local file (nothing downloaded or embedded again).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Catalog, type CatalogReindexSummary, type FeedOptions, openCatalog } from '@lookalike/catalog';
import type { Embedder } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { createFetcher, createHostQueue } from '@lookalike/fetch';
import Database from 'better-sqlite3';
import {
  BROKEN_IMAGES,
  type FeedServer,
  type FixtureFormat,
  MERCHANT_SKIPPED_ROWS,
  OUT_OF_STOCK_EVERY,
  SHOPIFY_SKIPPED_ROWS,
  startFeedServer,
} from '../feeds/fixtures/feed-server.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type CountingEmbedder, countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-feed-${process.pid}`);
const DATA = join(ROOT, 'data');
const PRODUCTS = 300;
/** The fetcher's byte limit: the server's `oversize` bodies are larger. */
const MAX_BYTES = 256 * 1024;

/** Products whose image fails, by code, for the Merchant-format feeds. */
const IMAGE_FAILURES = {
  FETCH_HTTP_404: BROKEN_IMAGES.missing,
  FETCH_NOT_IMAGE: BROKEN_IMAGES.html,
  FETCH_TIMEOUT: BROKEN_IMAGES.stall,
  IMAGE_TOO_LARGE: BROKEN_IMAGES.oversize,
};
const FAILED_PRODUCTS = Object.values(IMAGE_FAILURES).reduce((a, b) => a + b, 0);
const ITEMS = PRODUCTS - FAILED_PRODUCTS;
/** Distinct image URLs that work: two products share one. */
const WORKING_URLS = ITEMS - 1;

let server: FeedServer;
let real: ImageEmbedder;
let emb: CountingEmbedder;
let fetcher: ReturnType<typeof createFetcher>;
let hostQueue: ReturnType<typeof createHostQueue>;
let catalog: Catalog;
let first: CatalogReindexSummary;
/** images200 seen at the start and the end of each embed call of the first run. */
const overlap: { start: number; end: number }[] = [];

/** The counting embedder, also noting how many images were downloaded around each call. */
function watching(inner: CountingEmbedder): Embedder {
  return {
    get dimension() {
      return inner.dimension;
    },
    get runtime() {
      return inner.runtime;
    },
    weights: inner.weights,
    async embed(inputs, options) {
      const start = server.stats.images200;
      const out = await inner.embed(inputs, options);
      overlap.push({ start, end: server.stats.images200 });
      return out;
    },
    dispose: () => Promise.resolve(),
  };
}

async function open(feed: FeedOptions, embedder: Embedder = emb): Promise<Catalog> {
  return openCatalog({
    dataDir: DATA,
    feed,
    fetcher,
    hostQueue,
    embedder,
    batchSize: 8,
  });
}

function product(id: string) {
  const p = server.products.find((x) => x.id === id);
  assert.ok(p, `no fixture product ${id}`);
  return p;
}

/** The top answer for an item's own stored vector. */
function self(id: string, includeOutOfStock?: boolean) {
  const v = catalog.vectorOf(id);
  assert.ok(v, `${id} is in the catalog`);
  return catalog.search(v, {
    k: 5,
    excludeDuplicates: false,
    ...(includeOutOfStock === undefined ? {} : { includeOutOfStock }),
  });
}

function counts(s: CatalogReindexSummary): Record<string, number> {
  return Object.fromEntries(Object.entries(s.failuresByCode).map(([code, g]) => [code, g.count]));
}

const MERCHANT_COUNTS = { ...IMAGE_FAILURES, ...MERCHANT_SKIPPED_ROWS };

before(async () => {
  server = await startFeedServer({ count: PRODUCTS, oversizeBytes: 2 * MAX_BYTES });
  real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 8 });
  emb = countingEmbedder(real);
  fetcher = createFetcher({
    allowedHosts: ['127.0.0.1'],
    allowPrivate: true,
    limits: { maxBytes: MAX_BYTES, maxPixels: 40_000_000 },
    timeoutMs: 1_000,
  });
  hostQueue = createHostQueue({ perHost: 4, retries: 1, baseDelayMs: 10, maxDelayMs: 50 });
  catalog = await open({ source: server.feedUrl('merchant-tsv') }, watching(emb));
  first = await catalog.reindex();
});

after(async () => {
  await catalog?.close();
  await fetcher?.close();
  await real?.dispose();
  await server?.close();
  await rm(ROOT, { recursive: true, force: true });
});

describe('feed catalog (300 products)', () => {
  it('GIVEN the Merchant TSV feed THEN every product with a working image is an item and every failure has its code', () => {
    assert.equal(first.added, ITEMS);
    assert.equal(first.size, ITEMS);
    assert.equal(catalog.size(), ITEMS);
    assert.equal(first.total, PRODUCTS + 2, 'every row of the feed (the two skipped ones included)');
    assert.deepEqual(counts(first), MERCHANT_COUNTS);
    assert.equal(first.failed, FAILED_PRODUCTS + 2);
    for (const [code, behaviour] of [
      ['FETCH_HTTP_404', 'missing'],
      ['FETCH_NOT_IMAGE', 'html'],
      ['FETCH_TIMEOUT', 'stall'],
      ['IMAGE_TOO_LARGE', 'oversize'],
    ] as const) {
      assert.deepEqual(
        first.failuresByCode[code]?.first,
        server.withBehaviour(behaviour).map((p) => p.id),
        `${code}: the products, in feed order`,
      );
      for (const p of server.withBehaviour(behaviour)) assert.equal(catalog.vectorOf(p.id), undefined);
    }
    assert.equal(first.downloads, WORKING_URLS, 'one download per working URL');
    assert.equal(first.notModified, 0);
    assert.equal(first.embedded, WORKING_URLS, 'the shared image is embedded once');
    assert.equal(emb.embedded, WORKING_URLS);
  });

  it('GIVEN the first run THEN downloads went on while images were embedded, never all of them first', () => {
    assert.ok(overlap.length > 0);
    assert.ok(overlap[0]!.start < WORKING_URLS, `the first embed started after ${overlap[0]!.start} downloads`);
    assert.ok(
      overlap.some((o) => o.end > o.start),
      'some images were downloaded while an embed call was in flight',
    );
  });

  it('GIVEN an item THEN it answers with its title, link and price, from its content-addressed cache file', async () => {
    const p = product('sku-0042');
    const [top] = self(p.id);
    assert.equal(top?.id, p.id);
    assert.equal(top.metadata.title, p.title);
    assert.equal(top.metadata.link, p.link);
    assert.equal(top.metadata.price, p.price);
    assert.equal(top.metadata.priceCurrency, 'EUR');
    assert.equal(top.metadata.priceAmount, p.price.split(' ')[0]);
    assert.equal(top.metadata.brand, p.brand);
    assert.equal(top.metadata.availability, 'in_stock');
    assert.equal(top.metadata.imageUrl, server.imageUrl(p));
    const sha = createHash('sha256').update(server.imageBytes(p)).digest('hex');
    assert.equal(top.path, join(DATA, 'image-cache', sha.slice(0, 2), `${sha}.jpg`));
    assert.deepEqual(await readFile(top.path), server.imageBytes(p));
  });

  it('GIVEN two products sharing one image URL THEN it was downloaded once and both are items', () => {
    const [a, b] = server.withBehaviour('shared');
    assert.ok(a && b);
    const pa = self(a.id)[0];
    const pb = self(b.id)[0];
    assert.ok(pa && pb);
    // Same image, same vector: either may rank first for it; both are there with their own metadata.
    const ids = catalog.search(catalog.vectorOf(a.id)!, { k: 2, excludeDuplicates: false }).map((r) => r.id);
    assert.deepEqual(ids.sort(), [a.id, b.id].sort());
    assert.deepEqual(catalog.vectorOf(a.id), catalog.vectorOf(b.id));
    const titles = catalog
      .items()
      .filter((i) => i.id === a.id || i.id === b.id)
      .map((i) => i.metadata.title);
    assert.deepEqual(titles.sort(), [a.title, b.title].sort());
    assert.equal(pa.path, pb.path, 'one cache file');
  });

  it('GIVEN redirected image URLs THEN they were followed and the products are items', async () => {
    for (const p of server.withBehaviour('redirect')) {
      const item = catalog.items().find((i) => i.id === p.id);
      assert.ok(item, `${p.id} indexed`);
      assert.deepEqual(await readFile(item.path), server.imageBytes(p));
    }
  });

  it('GIVEN the failures THEN each is kept per product with its code in the database', () => {
    const db = new Database(join(DATA, 'catalog.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT path, code FROM failures ORDER BY path').all() as {
        path: string;
        code: string;
      }[];
      const byPath = new Map(rows.map((r) => [r.path, r.code]));
      for (const p of server.withBehaviour('missing')) assert.equal(byPath.get(`feed:${p.id}`), 'FETCH_HTTP_404');
      for (const p of server.withBehaviour('stall')) assert.equal(byPath.get(`feed:${p.id}`), 'FETCH_TIMEOUT');
      assert.equal(rows.length, FAILED_PRODUCTS + 2);
      const validators = db.prepare('SELECT count(*) AS n FROM http_validators').get() as { n: number };
      assert.equal(validators.n, WORKING_URLS, 'validators per working image URL');
    } finally {
      db.close();
    }
  });

  it('GIVEN nothing changed THEN a re-run downloads nothing (304s) and embeds nothing', async () => {
    server.resetStats();
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(s.downloads, 0);
    assert.equal(s.notModified, WORKING_URLS);
    assert.equal(server.stats.images304, WORKING_URLS);
    assert.equal(s.embedded, 0);
    assert.equal(emb.calls, 0);
    assert.deepEqual([s.added, s.updated, s.removed, s.relabelled], [0, 0, 0, 0]);
    assert.equal(s.unchanged, ITEMS);
    assert.deepEqual(counts(s), MERCHANT_COUNTS, 'the broken ones fail again, with the same codes');
    assert.equal(catalog.size(), ITEMS);
  });

  it("GIVEN one image's bytes changed behind the same URL THEN exactly that product is re-embedded", async () => {
    const p = product('sku-0003');
    const before = self(p.id)[0]!;
    await server.changeImage(p.id);
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(s.embedded, 1);
    assert.equal(emb.embedded, 1);
    assert.equal(s.updated, 1);
    assert.equal(s.downloads, 1);
    assert.equal(s.notModified, WORKING_URLS - 1);
    assert.deepEqual([s.added, s.removed, s.relabelled], [0, 0, 0]);
    const after = self(p.id)[0]!;
    assert.equal(after.id, p.id);
    assert.notEqual(after.path, before.path, 'a new content-addressed file');
    assert.deepEqual(await readFile(after.path), server.imageBytes(p));
    assert.equal(existsSync(before.path), false, 'the old cache file, used by nothing now, is removed');
  });

  it('GIVEN one price changed THEN the product is relabelled without embedding and answers with the new price', async () => {
    server.setPrice('sku-0004', '12.34 EUR');
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(s.embedded, 0);
    assert.equal(emb.calls, 0);
    assert.equal(s.relabelled, 1);
    assert.deepEqual([s.added, s.updated, s.downloads], [0, 0, 0]);
    const top = self('sku-0004')[0]!;
    assert.equal(top.metadata.price, '12.34 EUR');
    assert.equal(top.metadata.priceAmount, '12.34');
  });

  it('GIVEN out-of-stock products THEN they are indexed but hidden from answers unless asked for', () => {
    const out = server.products.filter((p) => p.availability === 'out_of_stock' && p.behaviour === 'ok');
    assert.ok(out.length >= 3, 'the fixture has out-of-stock products');
    for (const p of out) {
      assert.ok(catalog.vectorOf(p.id), `${p.id} is stored`);
      assert.ok(!self(p.id).some((r) => r.id === p.id), `${p.id} hidden by default`);
      assert.equal(self(p.id, true)[0]?.id, p.id, `${p.id} answers with includeOutOfStock`);
    }
    assert.equal(out[0]!.id, `sku-${String(OUT_OF_STOCK_EVERY).padStart(4, '0')}`);
  });

  it('GIVEN a product back in stock THEN it answers again after a relabel, without a download', async () => {
    const p = server.products.find((x) => x.availability === 'out_of_stock' && x.behaviour === 'ok')!;
    server.setAvailability(p.id, 'in_stock');
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(s.relabelled, 1);
    assert.equal(s.downloads, 0);
    assert.equal(s.embedded, 0);
    assert.equal(self(p.id)[0]?.id, p.id);
  });

  it('GIVEN a product gone from the feed THEN it is removed', async () => {
    server.drop('sku-0005');
    const s = await catalog.reindex();
    assert.equal(s.removed, 1);
    assert.equal(catalog.vectorOf('sku-0005'), undefined);
    assert.equal(catalog.size(), ITEMS - 1);
  });

  it('GIVEN a reopened catalog without options THEN it is still the feed catalog and answers from the cache', async () => {
    await catalog.close();
    catalog = await openCatalog({ dataDir: DATA, embedder: emb, batchSize: 8 });
    const info = catalog.info();
    assert.equal(info.kind, 'feed');
    assert.equal(info.feed?.source, server.feedUrl('merchant-tsv'));
    assert.equal(info.feed?.includeOutOfStock, false);
    assert.equal(info.imagesDir, undefined);
    const top = self('sku-0042')[0]!;
    assert.equal(top.id, 'sku-0042');
    assert.ok(existsSync(top.path));
    await catalog.close();
    catalog = await open({ source: server.feedUrl('merchant-tsv') });
  });

  const SAME_SHOP: FixtureFormat[] = ['csv', 'json', 'jsonl', 'rss', 'atom'];
  for (const format of SAME_SHOP) {
    it(`GIVEN the same shop as ${format} THEN nothing is downloaded or embedded and the same products fail`, async () => {
      await catalog.close();
      catalog = await open({ source: server.feedUrl(format) });
      emb.reset();
      const s = await catalog.reindex();
      assert.deepEqual(counts(s), MERCHANT_COUNTS);
      assert.deepEqual([s.added, s.updated, s.removed, s.downloads, s.embedded], [0, 0, 0, 0, 0]);
      assert.equal(catalog.size(), ITEMS - 1);
      const top = self('sku-0042')[0]!;
      assert.equal(top.metadata.title, product('sku-0042').title);
      assert.equal(top.metadata.link, product('sku-0042').link);
      assert.equal(top.metadata.price, product('sku-0042').price);
    });
  }

  it('GIVEN the same shop as a Shopify export (variant rows) THEN the products are relabelled, not re-embedded', async () => {
    await catalog.close();
    catalog = await open({ source: server.feedUrl('shopify') });
    emb.reset();
    const s = await catalog.reindex();
    assert.deepEqual(counts(s), { ...IMAGE_FAILURES, ...SHOPIFY_SKIPPED_ROWS });
    assert.deepEqual([s.added, s.updated, s.removed, s.downloads, s.embedded], [0, 0, 0, 0, 0]);
    assert.ok(s.relabelled > 0, 'Shopify rows carry other columns');
    const p = product('sku-0042');
    const top = self(p.id)[0]!;
    assert.equal(top.metadata.title, p.title, 'the title of the first row of the handle');
    assert.equal(top.metadata.brand, p.brand, 'Vendor');
  });

  it('GIVEN the Merchant feed as a local file THEN it reads the same products', async () => {
    const file = join(ROOT, 'merchant.tsv');
    await writeFile(file, server.render('merchant-tsv'));
    await catalog.close();
    catalog = await open({ source: file });
    emb.reset();
    const s = await catalog.reindex();
    assert.deepEqual(counts(s), MERCHANT_COUNTS);
    assert.deepEqual([s.added, s.updated, s.removed, s.downloads, s.embedded], [0, 0, 0, 0, 0]);
    assert.equal(catalog.info().feed?.source, file);
    assert.equal(self('sku-0042')[0]?.metadata.link, product('sku-0042').link);
  });
});
