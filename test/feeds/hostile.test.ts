/**
 * Hostile feeds (issue 12): each gives a clear coded error (FEED_INVALID) or a per-row skip
 * (FEED_ROW_MALFORMED), never a crash, and memory stays bounded:
 * - 2 GiB feeds streamed through readFeed (TSV whose huge descriptions overflow maxRowBytes, and
 *   JSON Lines read product by product), and a large feed over HTTP through openStream, with
 *   memory sampled every 64 MiB;
 * - broken quotes in CSV and TSV rows and headers, rows longer than maxRowBytes, a quote that
 *   never closes;
 * - JSON that is not an array, truncated or nested too deep;
 * - XML bombs: billion laughs, an external entity, a parameter entity, a bare DOCTYPE;
 * - a refused feed closes its input (a download) instead of leaving it open.
 * Byte counts are exact, timings are only reported (t.diagnostic), never asserted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { LookalikeError } from '@lookalike/core';
import { type FeedRow, type ReadFeedOptions, readFeed } from '@lookalike/feeds';
import { createFetcher } from '@lookalike/fetch';
import { listenOnLoopback } from '../helpers/net.js';
import { pieces, productsOf, rowsOf, skipsOf } from './helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Growth over the start that counts as bounded: a small fraction of the 2 GiB read. */
const MEMORY_BOUND = 300 * 1000 * 1000;

/** Peak RSS and heap growth over a baseline taken after a full GC, sampled when asked. */
function memoryWatch() {
  global.gc?.();
  const start = process.memoryUsage();
  let peakRss = 0;
  let peakHeap = 0;
  let samples = 0;
  return {
    sample(): void {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss - start.rss);
      peakHeap = Math.max(peakHeap, now.heapUsed - start.heapUsed);
      samples++;
    },
    get peakRss() {
      return peakRss;
    },
    get peakHeap() {
      return peakHeap;
    },
    get samples() {
      return samples;
    },
    describe(): string {
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      return `peak growth: rss ${mb(peakRss)}, heapUsed ${mb(peakHeap)} (${samples} samples; start rss ${mb(start.rss)})`;
    },
  };
}

type Watch = ReturnType<typeof memoryWatch>;

/**
 * A feed generated lazily, block by block: `block(n)` returns the bytes of block n (its rows end
 * in a line feed), until `total` bytes; memory is sampled every 64 MiB produced.
 */
async function* generated(
  header: Buffer,
  total: number,
  block: (n: number) => Buffer[],
  watch: Watch,
  produced: { bytes: number },
): AsyncGenerator<Uint8Array> {
  yield header;
  produced.bytes = header.length;
  let nextSample = 64 * MiB;
  for (let n = 0; produced.bytes < total; n++) {
    for (const part of block(n)) {
      produced.bytes += part.length;
      yield part;
    }
    if (produced.bytes >= nextSample) {
      watch.sample();
      nextSample += 64 * MiB;
    }
  }
}

/** Counts rows by code while reading; everything else is dropped at once. */
async function tally(feed: AsyncIterable<FeedRow>): Promise<{ products: number; skips: Map<string, number> }> {
  let products = 0;
  const skips = new Map<string, number>();
  for await (const row of feed) {
    if (row.ok) products++;
    else skips.set(row.code, (skips.get(row.code) ?? 0) + 1);
  }
  return { products, skips };
}

/** Writes `id` as 9 digits into `buf` at `at` (ids vary without building strings per row). */
function writeId(buf: Buffer, at: number, id: number): void {
  let n = id;
  for (let i = 8; i >= 0; i--) {
    buf[at + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
}

function report(t: TestContext, what: string, startedAt: number, bytes: number, watch: Watch): void {
  const s = (Date.now() - startedAt) / 1000;
  t.diagnostic(`${what}: ${(bytes / GiB).toFixed(2)} GiB in ${s.toFixed(1)} s; ${watch.describe()}`);
}

describe('a 2 GiB feed, streamed', () => {
  test('GIVEN 2 GiB of Merchant TSV whose huge descriptions overflow maxRowBytes THEN every product is read, every huge row is skipped, and memory stays bounded', async (t) => {
    // csv-parse reads about 20 MB/s here (2 GiB of parsed rows would take minutes), so most of
    // the bytes are in rows the framer skips unparsed (over maxRowBytes): per MiB block, 64
    // products of 256 bytes, then one product whose description alone is ~1008 KiB.
    const maxRowBytes = 64 * 1024;
    const header = Buffer.from('id\ttitle\tlink\timage_link\tprice\tbrand\tdescription\n');
    const PRODUCTS_PER_BLOCK = 64;
    const ROW = 256;
    const prefix = 'p000000000\tLinen shirt, slim fit\thttps://shop.example/p/';
    const template = Buffer.alloc(PRODUCTS_PER_BLOCK * ROW, 0x78 /* x */);
    for (let r = 0; r < PRODUCTS_PER_BLOCK; r++) {
      const at = r * ROW;
      const fields = `${prefix}p000000000\thttps://cdn.example/i/p000000000.jpg\t49.90 EUR\tNorthwind\t`;
      template.write(fields, at, 'latin1');
      template[at + ROW - 1] = 0x0a;
    }
    // The huge row, shared by every block (never mutated).
    const hugeRow = Buffer.alloc(MiB - template.length, 0x79 /* y */);
    hugeRow.write(
      'huge-000\tHuge\thttps://shop.example/p/huge\thttps://cdn.example/i/huge.jpg\t1 EUR\tX\t',
      0,
      'latin1',
    );
    hugeRow[hugeRow.length - 1] = 0x0a;
    // Where the digits of the id's three copies are in a row: the id column, the link, the image URL.
    const idOffsets: number[] = [];
    const row0 = template.subarray(0, ROW).toString('latin1');
    for (let at = row0.indexOf('p000000000'); at >= 0; at = row0.indexOf('p000000000', at + 1)) idOffsets.push(at + 1);
    assert.equal(idOffsets.length, 3);

    const watch = memoryWatch();
    const produced = { bytes: 0 };
    let next = 0;
    const block = () => {
      const products = Buffer.from(template);
      for (let r = 0; r < PRODUCTS_PER_BLOCK; r++) {
        const id = next++;
        for (const off of idOffsets) writeId(products, r * ROW + off, id);
      }
      return [products, hugeRow];
    };
    const started = Date.now();
    const { products, skips } = await tally(
      readFeed(generated(header, 2 * GiB, block, watch, produced), { name: 'huge.tsv', maxRowBytes }),
    );
    report(t, 'TSV', started, produced.bytes, watch);
    const blocks = next / PRODUCTS_PER_BLOCK;
    assert.ok(produced.bytes >= 2 * GiB, `${produced.bytes} bytes`);
    assert.equal(blocks, 2048);
    assert.equal(products, next, 'every product row read');
    assert.deepEqual(Object.fromEntries(skips), { FEED_ROW_MALFORMED: blocks });
    assert.ok(watch.samples >= 30);
    assert.ok(watch.peakRss < MEMORY_BOUND, watch.describe());
    assert.ok(watch.peakHeap < MEMORY_BOUND, watch.describe());
  });

  test('GIVEN 2 GiB of JSON Lines, every byte a product THEN all of them are read and memory stays bounded', async (t) => {
    const ROW = 32 * 1024;
    const ROWS_PER_BLOCK = 32;
    const head =
      '{"id":"p000000000","title":"Wool scarf","link":"https://shop.example/p/p000000000","image_link":"https://cdn.example/i/p000000000.jpg","price":"12.00 GBP","description":"';
    const line = Buffer.alloc(ROW, 0x7a /* z */);
    line.write(head, 0, 'latin1');
    line.write('"}\n', ROW - 3, 'latin1');
    const idOffsets: number[] = [];
    for (let at = head.indexOf('p000000000'); at >= 0; at = head.indexOf('p000000000', at + 1)) idOffsets.push(at + 1);
    assert.equal(idOffsets.length, 3);
    const template = Buffer.concat(Array.from({ length: ROWS_PER_BLOCK }, () => line));
    const watch = memoryWatch();
    const produced = { bytes: 0 };
    let next = 0;
    const block = () => {
      const buf = Buffer.from(template);
      for (let r = 0; r < ROWS_PER_BLOCK; r++) {
        const id = next++;
        for (const off of idOffsets) writeId(buf, r * ROW + off, id);
      }
      return [buf];
    };
    const started = Date.now();
    const { products, skips } = await tally(
      readFeed(generated(Buffer.alloc(0), 2 * GiB, block, watch, produced), { name: 'huge.jsonl' }),
    );
    report(t, 'JSONL', started, produced.bytes, watch);
    assert.ok(produced.bytes >= 2 * GiB);
    assert.equal(next, (2 * GiB) / ROW);
    assert.equal(products, next);
    assert.deepEqual(Object.fromEntries(skips), {});
    assert.ok(watch.peakRss < MEMORY_BOUND, watch.describe());
    assert.ok(watch.peakHeap < MEMORY_BOUND, watch.describe());
  });

  test('GIVEN a 512 MiB feed served lazily over HTTP THEN openStream into readFeed reads it all in bounded memory', async (t) => {
    const TOTAL = 512 * MiB;
    const ROW = 32 * 1024;
    const ROWS_PER_BLOCK = 32;
    const head =
      '{"id":"h000000000","title":"Tote","image_link":"https://cdn.example/i/h000000000.jpg","price":"30 USD","description":"';
    const line = Buffer.alloc(ROW, 0x71 /* q */);
    line.write(head, 0, 'latin1');
    line.write('"}\n', ROW - 3, 'latin1');
    const template = Buffer.concat(Array.from({ length: ROWS_PER_BLOCK }, () => line));
    const idOffsets: number[] = [];
    for (let at = head.indexOf('h000000000'); at >= 0; at = head.indexOf('h000000000', at + 1)) idOffsets.push(at + 1);
    let served = 0;
    let rows = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': String(TOTAL) });
      const pump = () => {
        while (served < TOTAL && !res.destroyed) {
          const buf = Buffer.from(template);
          for (let r = 0; r < ROWS_PER_BLOCK; r++) {
            const id = rows++;
            for (const off of idOffsets) writeId(buf, r * ROW + off, id);
          }
          served += buf.length;
          if (!res.write(buf)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
    const port = await listenOnLoopback(server);
    const fetcher = createFetcher({
      allowedHosts: ['127.0.0.1'],
      limits: { maxBytes: MiB, maxPixels: 40_000_000 },
      allowPrivate: true,
    });
    try {
      const watch = memoryWatch();
      const started = Date.now();
      const stream = await fetcher.openStream(`http://127.0.0.1:${port}/feeds/huge.jsonl`);
      let received = 0;
      let nextSample = 64 * MiB;
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const chunk of stream.body) {
          received += chunk.length;
          if (received >= nextSample) {
            watch.sample();
            nextSample += 64 * MiB;
          }
          yield chunk;
        }
      }
      const { products, skips } = await tally(readFeed(counted(), { name: 'huge.jsonl', baseUrl: stream.finalUrl }));
      report(t, 'HTTP JSONL', started, received, watch);
      assert.equal(received, TOTAL);
      assert.equal(products, TOTAL / ROW);
      assert.equal(products, rows);
      assert.deepEqual(Object.fromEntries(skips), {});
      assert.ok(watch.samples >= 7);
      assert.ok(watch.peakRss < MEMORY_BOUND, watch.describe());
    } finally {
      await fetcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

const CSV_HEADER = 'id,title,link,image_link,price\n';
const TSV_HEADER = 'id\ttitle\tlink\timage_link\tprice\n';

function csvRow(id: string, title: string, d = ','): string {
  return [id, title, `https://shop.example/p/${id}`, `https://cdn.example/i/${id}.jpg`, '10 EUR'].join(d);
}

async function rejectsFeedInvalid(
  content: string | Uint8Array,
  options: ReadFeedOptions = {},
): Promise<LookalikeError> {
  try {
    await rowsOf(content, options);
  } catch (err) {
    assert.ok(err instanceof LookalikeError, `expected a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, 'FEED_INVALID', err.message);
    return err;
  }
  assert.fail('expected FEED_INVALID, but the feed was read');
}

describe('rows with broken quotes', () => {
  test('GIVEN CSV rows with a stray quote, text after a closing quote and a quote that never closes THEN each is one FEED_ROW_MALFORMED and every other row is read', async () => {
    const rows = [
      csvRow('a', 'Plain'),
      csvRow('b', 'He said "hi"'),
      csvRow('c', '"Quoted, fine"'),
      csvRow('d', '"Closed"then text'),
      csvRow('e', '"Doubled ""quotes"" inside"'),
      csvRow('f', '"Never closed'),
      csvRow('g', 'After the open quote'),
      csvRow('h', '"Two\nlines"'),
      csvRow('i', 'Last'),
    ];
    const feed = `${CSV_HEADER}${rows.join('\n')}\n`;
    for (const size of [7, 64 * 1024]) {
      const got = await rowsOf(feed, {}, size);
      assert.deepEqual(skipsOf(got), [
        [3, 'FEED_ROW_MALFORMED'],
        [5, 'FEED_ROW_MALFORMED'],
        [7, 'FEED_ROW_MALFORMED'],
      ]);
      const products = productsOf(got);
      assert.deepEqual([...products.keys()], ['a', 'c', 'e', 'g', 'h', 'i']);
      assert.equal(products.get('c')?.title, 'Quoted, fine');
      assert.equal(products.get('e')?.title, 'Doubled "quotes" inside');
      assert.equal(products.get('h')?.title, 'Two\nlines');
      // The line numbers after the multi-line field are still right.
      assert.equal(got.find((r) => r.ok && r.product.id === 'i')?.line, 11);
      const reasons = got.flatMap((r) => (r.ok ? [] : [r.message]));
      assert.match(reasons[0] as string, /quote inside an unquoted field/);
      assert.match(reasons[1] as string, /text after a closing quote/);
      assert.match(reasons[2] as string, /not closed|text after a closing quote/);
    }
  });

  test('GIVEN TSV rows with broken quotes (inch marks, an open quote) THEN the same per-row skips', async () => {
    const feed = `${TSV_HEADER}${[
      csvRow('a', 'Vinyl', '\t'),
      csvRow('b', '12" vinyl record', '\t'),
      csvRow('c', '"Open quote then tab', '\t'),
      csvRow('d', '"Properly quoted"', '\t'),
      csvRow('e', 'End', '\t'),
    ].join('\n')}\n`;
    const got = await rowsOf(feed);
    assert.deepEqual(skipsOf(got), [
      [3, 'FEED_ROW_MALFORMED'],
      [4, 'FEED_ROW_MALFORMED'],
    ]);
    assert.deepEqual([...productsOf(got).keys()], ['a', 'd', 'e']);
    assert.equal(productsOf(got).get('d')?.title, 'Properly quoted');
  });

  test('GIVEN a quote that never closes, followed by 20,000 rows THEN one row is skipped and the 20,000 are read (the framer re-reads after maxRowBytes)', async () => {
    const after = Array.from({ length: 20_000 }, (_, i) =>
      csvRow(`r${i}`, i % 3 === 0 ? `"Quoted ${i}"` : `Plain ${i}`),
    );
    const feed = `${CSV_HEADER}${csvRow('a', 'First')}\n${csvRow('b', '"runs on')}\n${after.join('\n')}\n`;
    const rows = await rowsOf(feed, { maxRowBytes: 8 * 1024 }, 64 * 1024);
    assert.deepEqual(skipsOf(rows), [[3, 'FEED_ROW_MALFORMED']]);
    const products = productsOf(rows);
    assert.equal(products.size, 20_001);
    assert.equal(products.get('r0')?.title, 'Quoted 0');
    assert.equal(products.get('r19999')?.title, 'Plain 19999');
    assert.equal(rows.at(-1)?.line, 20_003);
  });

  test('GIVEN rows longer than maxRowBytes (plain and quoted) THEN each is FEED_ROW_MALFORMED naming the limit, and the rows around it are read', async () => {
    const long = 'x'.repeat(5000);
    const feed = `${CSV_HEADER}${[csvRow('a', 'Before'), csvRow('b', long), csvRow('c', `"${long}"`), csvRow('d', 'After')].join('\n')}\n`;
    for (const size of [7, 1000, 64 * 1024]) {
      const rows = await rowsOf(feed, { maxRowBytes: 1024 }, size);
      assert.deepEqual(skipsOf(rows), [
        [3, 'FEED_ROW_MALFORMED'],
        [4, 'FEED_ROW_MALFORMED'],
      ]);
      for (const r of rows) if (!r.ok) assert.match(r.message, /longer than 1024 bytes/);
      assert.deepEqual([...productsOf(rows).keys()], ['a', 'd']);
    }
    // Under the default limit (1 MiB) the same rows are products.
    assert.equal(productsOf(await rowsOf(feed, {}, 64 * 1024)).size, 4);
  });

  test('GIVEN a header with a broken quote, or longer than maxRowBytes THEN FEED_INVALID naming line 1', async () => {
    for (const [content, message] of [
      [`id,"title,image_link\n${csvRow('a', 'x')}\n`, /not closed/],
      [`id,ti"tle,image_link\n${csvRow('a', 'x')}\n`, /quote inside an unquoted field/],
      [`id\t"title\timage_link\n${csvRow('a', 'x', '\t')}\n`, /not closed/],
      [`id,${'h'.repeat(5000)},image_link\n${csvRow('a', 'x')}\n`, /longer than 1024 bytes/],
    ] as const) {
      const err = await rejectsFeedInvalid(content, { maxRowBytes: 1024 });
      assert.equal(err.details.line, 1);
      assert.match(err.message, /line 1: the header row cannot be read/);
      assert.match(err.message, message);
    }
  });
});

describe('JSON that is not an array', () => {
  test('GIVEN an object wrapping the products, a number, a string, null THEN FEED_INVALID, whether the name says .json, --format json says it, or nothing does', async () => {
    const wrapped = JSON.stringify({
      products: [{ id: 'a', image_link: 'https://cdn.example/a.jpg' }],
    });
    const pretty = JSON.stringify({ products: [{ id: 'a', image_link: 'https://cdn.example/a.jpg' }] }, null, 2);
    const cases: [string, ReadFeedOptions, RegExp][] = [
      [wrapped, { name: 'products.json' }, /must be an array of products/],
      [wrapped, { format: 'json' }, /must be an array of products/],
      [wrapped, {}, /must be an array of products/],
      [`${wrapped}\n`, { name: 'https://shop.example/api/products' }, /must be an array of products/],
      [pretty, {}, /must be an array of products/],
      ['42', { format: 'json' }, /must be an array of products/],
      ['"hello"', { format: 'json' }, /must be an array of products/],
      ['null', { format: 'json' }, /must be an array of products/],
      ['42', {}, /unknown feed format/],
      ['"hello"', { name: 'feed.json' }, /unknown feed format/],
    ];
    for (const [content, options, message] of cases) {
      const err = await rejectsFeedInvalid(content, options);
      assert.match(err.message, message, `${content.slice(0, 20)} ${JSON.stringify(options)}`);
    }
    // One product on one line is still JSON Lines, with or without its line feed.
    const one = JSON.stringify({ id: 'a', image_link: 'https://cdn.example/a.jpg', tags: ['x'] });
    for (const content of [one, `${one}\n`]) assert.deepEqual([...productsOf(await rowsOf(content)).keys()], ['a']);
  });

  test('GIVEN truncated or broken JSON THEN FEED_INVALID naming the JSON error, never a crash', async () => {
    const a = '{"id":"a","image_link":"https://cdn.example/a.jpg"}';
    // At most the products before the error are read (the error fails the whole feed anyway).
    for (const [content, atMost] of [
      ['[{"id":', 0],
      ['[', 0],
      [`[${a},`, 1],
      [`[${a},{"id":"b","image_link":"https://cdn.example/b.jpg"`, 1],
      [`[${a} oops]`, 1],
      [`[${a}]]`, 1],
    ] as const) {
      const got: FeedRow[] = [];
      let error: unknown;
      try {
        for await (const row of readFeed(pieces(content, 5))) got.push(row);
      } catch (err) {
        error = err;
      }
      assert.ok(error instanceof LookalikeError && error.code === 'FEED_INVALID', `${content}: ${String(error)}`);
      assert.match(error.message, /^JSON syntax error after product [01]: Parser /, content);
      assert.ok(got.every((r) => r.ok) && got.length <= atMost, content);
    }
  });

  test('GIVEN elements that are not objects, and nesting 10,000 levels deep THEN skipped elements, then FEED_INVALID for the depth', async () => {
    const a = '{"id":"a","image_link":"https://cdn.example/a.jpg"}';
    const rows = await rowsOf(`[1, "two", null, [3], ${a}]`);
    assert.deepEqual(skipsOf(rows), [
      [1, 'FEED_ROW_MALFORMED'],
      [2, 'FEED_ROW_MALFORMED'],
      [3, 'FEED_ROW_MALFORMED'],
      [4, 'FEED_ROW_MALFORMED'],
    ]);
    assert.deepEqual([...productsOf(rows).keys()], ['a']);
    const deep = `[${a},${'['.repeat(10_000)}${']'.repeat(10_000)}]`;
    const err = await rejectsFeedInvalid(deep);
    assert.match(err.message, /nested deeper than 64 levels/);
  });
});

describe('XML bombs', () => {
  const rss = (doctype: string, title: string) =>
    `<?xml version="1.0"?>\n${doctype}\n<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>` +
    `<item><g:id>a</g:id><title>${title}</title><g:image_link>https://cdn.example/a.jpg</g:image_link></item>` +
    `<item><g:id>b</g:id><title>Plain</title><g:image_link>https://cdn.example/b.jpg</g:image_link></item>` +
    '</channel></rss>\n';
  const laughs = (levels: number) => {
    const decls = ['<!ENTITY lol0 "lol">'];
    for (let i = 1; i <= levels; i++) decls.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    return `<!DOCTYPE lolz [${decls.join('')}]>`;
  };

  test('GIVEN billion laughs, an external entity, a parameter entity and a bare DOCTYPE THEN FEED_INVALID on line 2, nothing expanded', async () => {
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0] ?? 'root:';
    for (const [doctype, title] of [
      [laughs(9), '&lol9;'],
      [laughs(30), '&lol30;&lol30;'],
      ['<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', '&xxe;'],
      ['<!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', 'x'],
      ['<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">', 'x'],
      ['<!DOCTYPE rss>', 'x'],
    ] as const) {
      const got: FeedRow[] = [];
      let error: unknown;
      try {
        for await (const row of readFeed(pieces(rss(doctype, title), 64), { name: 'feed.xml' })) got.push(row);
      } catch (err) {
        error = err;
      }
      assert.ok(error instanceof LookalikeError, String(error));
      assert.equal(error.code, 'FEED_INVALID');
      assert.equal(error.details.line, 2, doctype);
      assert.match(error.message, /DOCTYPE is refused/);
      assert.deepEqual(got, [], 'no item is read from a document with a DOCTYPE');
      assert.ok(!error.message.includes(passwd), 'nothing from /etc/passwd');
      assert.ok(!error.message.includes('lollollol'));
    }
    // 10⁹ "lol"s would be gigabytes; nothing near that was ever allocated.
    assert.ok(process.memoryUsage().heapUsed - before < 50 * 1000 * 1000);
  });

  test('GIVEN entity references without a DOCTYPE THEN the item using one is skipped, the others are read', async () => {
    const rows = await rowsOf(rss('', '&lol9; &xxe;'), { name: 'feed.xml' });
    assert.deepEqual(skipsOf(rows), [[3, 'FEED_ROW_MALFORMED']]);
    assert.deepEqual([...productsOf(rows).keys()], ['b']);
    assert.match((rows[0] as { message: string }).message, /undefined entity/);
  });

  test('GIVEN an HTML page where the feed should be, a DOCTYPE hidden after the root, and a DOCTYPE that never ends THEN FEED_INVALID', async () => {
    const html = await rejectsFeedInvalid('<!DOCTYPE html><html><body>Sign in</body></html>', { name: 'feed' });
    assert.match(html.message, /if this is an HTML page, the feed URL is wrong/);
    await rejectsFeedInvalid('<rss><!DOCTYPE x><channel></channel></rss>');
    const endless = `<?xml version="1.0"?><!DOCTYPE x [${'<!ENTITY a "b">'.repeat(10_000)}`;
    const err = await rejectsFeedInvalid(endless, { maxRowBytes: 64 * 1024 });
    assert.match(err.message, /longer than 65536 bytes/);
  });
});

describe('a refused feed closes its input', () => {
  /** `content` in 1000-byte pieces, remembering whether the reader closed it. */
  function source(content: Buffer) {
    const state = { closed: false, done: false };
    async function* gen(): AsyncGenerator<Uint8Array> {
      try {
        for (let at = 0; at < content.length; at += 1000) yield content.subarray(at, at + 1000);
        state.done = true;
      } finally {
        state.closed = true;
      }
    }
    return { input: gen(), state };
  }

  test('GIVEN binary, gzip that is corrupt, a single column, no id column, JSON that is not an array, a DOCTYPE THEN FEED_INVALID and the input was closed, not read to its end', async () => {
    const cases: [string, Buffer][] = [
      [
        'binary',
        Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), Buffer.alloc(100_000, 1)]),
      ],
      ['corrupt gzip', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(100_000, 7)])],
      ['gzip of binary', Buffer.concat([gzipSync(Buffer.alloc(50_000, 0)), Buffer.alloc(100_000, 0)])],
      ['one column', Buffer.from(`hello\n${'x\n'.repeat(50_000)}`)],
      ['no id column', Buffer.from(`a,b\n${'1,2\n'.repeat(200_000)}`)],
      ['wrapped JSON', Buffer.from(`{\n"products": [${'{"id":"1"},'.repeat(20_000)}{}]}`)],
      ['DOCTYPE', Buffer.from(`<!DOCTYPE html><html>${'<p>x</p>'.repeat(20_000)}</html>`)],
    ];
    for (const [label, content] of cases) {
      const { input, state } = source(content);
      await assert.rejects(
        (async () => {
          for await (const _ of readFeed(input)) {
            // Nothing is read from these.
          }
        })(),
        (err) => err instanceof LookalikeError && err.code === 'FEED_INVALID',
        label,
      );
      assert.deepEqual(state, { closed: true, done: false }, label);
    }
  });

  test('GIVEN a reader that stops after the first product THEN the input is closed, gzip or not', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => csvRow(`p${i}`, `T ${i}`)).join('\n');
    const plain = Buffer.from(`${CSV_HEADER}${rows}\n`);
    for (const [label, content] of [
      ['plain', plain],
      ['gzip', gzipSync(plain)],
    ] as const) {
      const { input, state } = source(content);
      let read = 0;
      for await (const row of readFeed(input)) {
        assert.ok(row.ok);
        read++;
        break;
      }
      assert.equal(read, 1);
      assert.deepEqual(state, { closed: true, done: false }, label);
    }
  });
});
