/**
 * Feed catalogs from the outside: `lookalike index --feed URL` (called as a function with a real
 * context) prints the summary and the failures by code with the first ids, its flag mistakes are
 * usage errors; the runtime opens the catalog LOOKALIKE_FEED names and its reindex (what `start`
 * and /reindex run) downloads and embeds nothing new; and `lookalike start` as a real process with
 * LOOKALIKE_FEED indexes the feed in the background and answers on /api/similar with the
 * product's title, link and price. Real embedder (untrained), SQLite, FAISS, fetcher, loopback shop.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Config, LookalikeError, parseConfig, silentLogger } from '@lookalike/core';
import { openRuntime } from '@lookalike/runtime';
import { indexCommand } from '../../apps/cli/src/commands/index.ts';
import type { CliContext } from '../../apps/cli/src/context.ts';
import { BROKEN_IMAGES, type FeedServer, startFeedServer } from '../feeds/fixtures/feed-server.ts';
import { until } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { REPO_ROOT, spawnApp } from '../helpers/process.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-feed-cli-${process.pid}`);
const DATA = join(ROOT, 'data');
const PRODUCTS = 40;
const FAILING = BROKEN_IMAGES.missing + BROKEN_IMAGES.html + BROKEN_IMAGES.stall + BROKEN_IMAGES.oversize;
const ITEMS = PRODUCTS - FAILING;
const WORKING_URLS = ITEMS - 1;

let server: FeedServer;
let modelsDir: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: DATA,
    LOOKALIKE_BATCH_SIZE: '4',
    FEED_HOSTS: '127.0.0.1',
    LOOKALIKE_FETCH_ALLOW_PRIVATE: 'on',
    LOOKALIKE_FETCH_TIMEOUT_MS: '1000',
    LOOKALIKE_MAX_BYTES: String(256 * 1024),
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

function context(config: Config): CliContext & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { config, logger: silentLogger, stdout, stderr, out: () => out, err: () => err };
}

before(async () => {
  modelsDir = await ensureUntrainedModels();
  server = await startFeedServer({ count: PRODUCTS, oversizeBytes: 512 * 1024 });
});

after(async () => {
  await server?.close();
  await rm(ROOT, { recursive: true, force: true });
});

describe('feed configuration', () => {
  it('GIVEN the feed variables THEN they parse into config.feed; a bad map or a feed with DATABASE_URL is CONFIG_INVALID', () => {
    const c = parseConfig({
      LOOKALIKE_FEED: 'feeds/products.tsv',
      LOOKALIKE_FEED_FORMAT: 'tsv',
      LOOKALIKE_FEED_MAP: 'imageUrl=Picture URL, id=SKU',
      FEED_HOSTS: 'cdn.shop.example,shop.example',
      LOOKALIKE_INCLUDE_OUT_OF_STOCK: 'yes',
      LOOKALIKE_FEED_CONCURRENCY: '8',
    });
    assert.deepEqual(c.feed, {
      source: join(process.cwd(), 'feeds/products.tsv'),
      format: 'tsv',
      map: { imageUrl: 'Picture URL', id: 'SKU' },
      hosts: ['cdn.shop.example', 'shop.example'],
      includeOutOfStock: true,
      concurrency: 8,
    });
    const d = parseConfig({ LOOKALIKE_FEED: 'https://shop.example/feed.xml?key=1' });
    assert.equal(d.feed.source, 'https://shop.example/feed.xml?key=1', 'URLs kept as given');
    assert.equal(d.feed.hosts, 'any-public');
    assert.equal(d.feed.includeOutOfStock, false);
    assert.equal(d.feed.concurrency, 4);
    assert.equal(parseConfig({}).feed.source, undefined);
    for (const [env, variable] of [
      [{ LOOKALIKE_FEED_MAP: 'imageUrl' }, 'LOOKALIKE_FEED_MAP'],
      [{ LOOKALIKE_FEED_FORMAT: 'xls' }, 'LOOKALIKE_FEED_FORMAT'],
      [{ LOOKALIKE_FEED_CONCURRENCY: '0' }, 'LOOKALIKE_FEED_CONCURRENCY'],
      [{ LOOKALIKE_FEED: 'f.csv', DATABASE_URL: 'postgres://db/x' }, 'LOOKALIKE_FEED'],
    ] as const) {
      assert.throws(
        () => parseConfig(env),
        (err: unknown) =>
          err instanceof LookalikeError &&
          err.code === 'CONFIG_INVALID' &&
          (err.details.variables as string[]).includes(variable),
        variable,
      );
    }
  });
});

describe('lookalike index --feed', () => {
  it('GIVEN flag mistakes THEN they are usage errors (exit 2) and nothing is opened', async () => {
    const cases: [string[], RegExp][] = [
      [['--feed', server.feedUrl('csv'), 'some/dir'], /a folder or --feed, not both/],
      [['--feed', server.feedUrl('csv'), '--format', 'xls'], /unknown feed format "xls"/],
      [['--feed', server.feedUrl('csv'), '--map', 'imageUrl'], /--map wants field=column/],
      [['--feed', server.feedUrl('csv'), '--labels', 'x.csv'], /--labels is for folders/],
      [['some/dir', '--format', 'csv'], /--format goes with --feed/],
    ];
    for (const [args, message] of cases) {
      const ctx = context(parseConfig(env()));
      assert.equal(await indexCommand.run(args, ctx), 2, args.join(' '));
      assert.match(ctx.err(), message);
      assert.match(ctx.err(), /Usage: lookalike index/);
    }
  });

  it('GIVEN a feed URL THEN it indexes it and prints the summary and the failures by code', async () => {
    const ctx = context(parseConfig(env()));
    const code = await indexCommand.run(
      ['--feed', server.feedUrl('merchant-tsv'), '--map', 'brand=brand', '--include-out-of-stock'],
      ctx,
    );
    assert.equal(code, 0, ctx.err());
    const out = ctx.out();
    assert.match(out, new RegExp(`^Indexed feed ${server.feedUrl('merchant-tsv')} into ${DATA} \\[flat\\]`, 'm'));
    assert.match(out, new RegExp(`added ${ITEMS}, updated 0, removed 0, unchanged 0, failed ${FAILING + 2}`));
    assert.match(out, new RegExp(`catalog size ${ITEMS}; downloaded ${WORKING_URLS} image\\(s\\), 0 not modified`));
    assert.match(out, /^Failures by code:$/m);
    assert.match(out, /^ {2}code\s+count\s+first$/m);
    const missing = server.withBehaviour('missing').map((p) => p.id);
    assert.match(out, new RegExp(`^ {2}FETCH_HTTP_404\\s+${missing.length}  ${missing.join(', ')}$`, 'm'));
    for (const code of ['FETCH_NOT_IMAGE', 'FETCH_TIMEOUT', 'IMAGE_TOO_LARGE', 'FEED_ROW_NO_IMAGE']) {
      assert.match(out, new RegExp(`^ {2}${code}\\s+\\d+  \\S`, 'm'), code);
    }
    assert.match(out, /^ {2}FEED_ROW_DUPLICATE_ID\s+1 {2}line \d+$/m);
  });

  it('GIVEN a column map naming an unknown field THEN it is a usage error naming the fields', async () => {
    const ctx = context(parseConfig(env()));
    assert.equal(await indexCommand.run(['--feed', server.feedUrl('merchant-tsv'), '--map', 'pic=Picture'], ctx), 2);
    assert.match(ctx.err(), /Unknown feed field "pic"/);
  });
});

describe('LOOKALIKE_FEED in the runtime (start, /reindex)', () => {
  it('GIVEN LOOKALIKE_FEED THEN the runtime opens the feed catalog and its reindex downloads and embeds nothing new', async () => {
    const config = parseConfig(env({ LOOKALIKE_FEED: server.feedUrl('merchant-tsv') }));
    assert.equal(config.feed.source, server.feedUrl('merchant-tsv'));
    assert.equal(config.feed.hosts.length, 1);
    const runtime = await openRuntime({ config, logger: silentLogger });
    try {
      assert.equal(runtime.store.kind, 'sqlite');
      assert.equal(runtime.catalog.info().feed?.source, server.feedUrl('merchant-tsv'));
      assert.equal(runtime.catalog.size(), ITEMS);
      server.resetStats();
      const s = await runtime.service.reindex();
      assert.deepEqual([s.added, s.updated, s.removed, s.failed], [0, 0, 0, FAILING + 2]);
      assert.equal(server.stats.images304, WORKING_URLS, 'every working image answered 304');
      const summary = s as typeof s & { embedded: number; downloads: number };
      assert.equal(summary.embedded, 0);
      assert.equal(summary.downloads, 0);
    } finally {
      await runtime.close();
    }
  });

  it('GIVEN a data dir indexed with --feed and no LOOKALIKE_FEED nor folder THEN the runtime reopens the recorded feed with its fetcher', async () => {
    const config = parseConfig(env());
    assert.equal(config.feed.source, undefined);
    assert.equal(config.catalog.imagesDir, undefined);
    const runtime = await openRuntime({ config, logger: silentLogger });
    try {
      assert.equal(runtime.catalog.info().feed?.source, server.feedUrl('merchant-tsv'));
      assert.equal(runtime.catalog.size(), ITEMS);
      server.resetStats();
      // Without a fetcher this reindex would be CONFIG_INVALID (a feed URL it cannot read).
      const s = await runtime.service.reindex();
      assert.deepEqual([s.added, s.updated, s.removed], [0, 0, 0]);
      assert.equal(server.stats.images304, WORKING_URLS, 'every working image answered 304');
    } finally {
      await runtime.close();
    }
  });

  it('GIVEN `lookalike start` with LOOKALIKE_FEED THEN it checks the feed in the background and answers with titles, links and prices', async () => {
    const p = server.withBehaviour('ok')[3]!;
    const app = await spawnApp('apps/cli/src/main.ts', ['start'], REPO_ROOT, {
      ...env({ LOOKALIKE_FEED: server.feedUrl('rss'), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' }),
    });
    const exited = once(app.child, 'exit');
    try {
      await until(
        () => app.logs.some((l) => l.startsWith('Reindex done')),
        `the background index summary:\n${app.logs.join('')}`,
        180_000,
      );
      assert.ok(
        app.logs.some((l) => l.includes(`Catalog: ${ITEMS} items from the feed ${server.feedUrl('rss')}`)),
        app.logs.join(''),
      );
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(server.imageBytes(p))], { type: 'image/jpeg' }), 'q.jpg');
      const res = await fetch(`${app.base}/api/similar`, { method: 'POST', body: form });
      const body = (await res.json()) as {
        results?: { id: string; name: string; link?: string; price: string }[];
      };
      assert.equal(res.status, 200, JSON.stringify(body));
      // The query is the product's own image: an exact duplicate, left out; its neighbours are products.
      assert.ok((body.results ?? []).length > 0);
      for (const r of body.results ?? []) {
        const fp = server.products.find((x) => x.id === r.id);
        assert.ok(fp, `${r.id} is a product of the feed`);
        assert.equal(r.name, fp.title);
        assert.equal(r.link, fp.link);
        assert.ok(r.price.startsWith(fp.price), `${r.price} shows ${fp.price}`);
      }
    } finally {
      app.child.kill('SIGTERM');
      await exited;
    }
  });

  it('GIVEN `lookalike start` without LOOKALIKE_FEED on a data dir indexed from a feed THEN it answers from that feed, no demo catalog', async () => {
    const app = await spawnApp('apps/cli/src/main.ts', ['start'], REPO_ROOT, {
      ...env({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' }),
    });
    const exited = once(app.child, 'exit');
    try {
      await until(
        () => app.logs.some((l) => l.includes('Catalog:') || /demo catalog/i.test(l)),
        `what start opened:\n${app.logs.join('')}`,
        180_000,
      );
      const logs = app.logs.join('');
      assert.ok(!/demo catalog/i.test(logs), logs);
      assert.ok(logs.includes(`Catalog: ${ITEMS} items from the feed ${server.feedUrl('rss')}`), logs);
      assert.ok(!existsSync(join(DATA, 'demo-catalog')), 'no demo catalog drawn');
      await until(
        () => app.logs.some((l) => l.startsWith('Reindex done')),
        `the background index summary:\n${app.logs.join('')}`,
        180_000,
      );
    } finally {
      app.child.kill('SIGTERM');
      await exited;
    }
  });
});
