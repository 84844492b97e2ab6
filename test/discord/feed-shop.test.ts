/**
 * Issue 12's "done when", as processes: `lookalike index --feed <merchant.tsv URL>` indexes a
 * generated shop on loopback, then `lookalike start` with Discord configured (against the fake
 * Discord) answers a photo with clickable products and prices, and pressing "3" answers with item
 * 3's neighbours: no image is downloaded again (neither from the shop nor from Discord's CDN).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseChain } from '@lookalike/discord';
import { FakeDiscord, type RecordedRequest, snowflake } from '../fakes/discord.js';
import { type FeedServer, startFeedServer } from '../feeds/fixtures/feed-server.js';
import { until } from '../helpers/gate.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { REPO_ROOT, runCli, type SpawnedApp, spawnApp } from '../helpers/process.js';

const T = { timeout: 600_000 };
const PRODUCTS = 40;

interface Button {
  label: string;
  style: number;
  custom_id?: string;
  url?: string;
}
interface Answer {
  id: string;
  content: string;
  embeds: { title?: string; description?: string; footer?: { text: string } }[];
  components: { type: number; components: Button[] }[];
}

let shop: FeedServer;
let fake: FakeDiscord;
let app: SpawnedApp | undefined;
let dir: string;
let env: Record<string, string>;

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  dir = await mkdtemp(join(TEST_TMP_DIR, 'discord-feed-shop-'));
  shop = await startFeedServer({ count: PRODUCTS, oversizeBytes: 512 * 1024 });
  fake = await FakeDiscord.start();
  env = {
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: join(dir, 'data'),
    LOOKALIKE_FEED: shop.feedUrl('merchant-tsv'),
    LOOKALIKE_BATCH_SIZE: '4',
    FEED_HOSTS: '127.0.0.1',
    ATTACHMENT_HOSTS: '127.0.0.1',
    LOOKALIKE_FETCH_ALLOW_PRIVATE: 'true',
    LOOKALIKE_FETCH_TIMEOUT_MS: '1000',
    LOOKALIKE_MAX_BYTES: String(256 * 1024),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
  };
}, T);

after(async () => {
  if (app !== undefined && app.child.exitCode === null) {
    const exited = once(app.child, 'exit');
    app.child.kill('SIGTERM');
    await exited;
  }
  await fake?.close();
  await shop?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const posted = (r: RecordedRequest): Answer => {
  const b = (r.json ?? {}) as Partial<Answer>;
  const id = String((r.response as { id?: string } | undefined)?.id ?? snowflake());
  return { id, content: b.content ?? '', embeds: b.embeds ?? [], components: b.components ?? [] };
};
const idsOf = (a: Answer) => parseChain(a.embeds[0]?.footer?.text).ids;
const imageRequests = () => [...shop.stats.imageRequests.values()].reduce((a, b) => a + b, 0);

test(
  'GIVEN `lookalike index --feed <merchant.tsv URL>` THEN the shop is indexed, with its failures by code',
  T,
  async () => {
    const run = await runCli(['index', '--feed', shop.feedUrl('merchant-tsv')], { ...env, LOG_LEVEL: 'warn' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Indexed feed http:\/\/127\.0\.0\.1:\d+\/\S+ into /m);
    assert.match(run.stdout, /^Failures by code:$/m);
    assert.match(run.stdout, /^ {2}FETCH_HTTP_404\s+3 {2}\S/m);
  },
);

test(
  'GIVEN `lookalike start` with Discord THEN a photo gets linked products with prices and buttons, and "3" answers with item 3’s neighbours without a download',
  T,
  async () => {
    app = await spawnApp('apps/cli/src/main.ts', ['start'], REPO_ROOT, {
      ...env,
      DISCORD_TOKEN: fake.token,
      DISCORD_API_BASE: fake.apiBase,
      DISCORD_WATCH_CHANNELS: fake.watchedChannelId,
    });
    await fake.waitForSession(120_000);
    // start checks the feed in the background (all 304s): let it finish before counting requests.
    const started = app;
    await until(() => started.logs.some((l) => l.includes('Reindex done')), 'the background feed check', 300_000);
    const product = shop.withBehaviour('ok')[5]!;
    const msg = fake.sendMessage({
      channelId: fake.watchedChannelId,
      author: { id: snowflake(), username: 'shopper' },
      attachments: [{ filename: 'outfit.jpg', contentType: 'image/jpeg', bytes: shop.imageBytes(product) }],
    });
    const reply = await fake.waitFor(
      (r) =>
        r.method === 'POST' &&
        r.path === `/channels/${fake.watchedChannelId}/messages` &&
        (r.json as { message_reference?: { message_id: string } })?.message_reference?.message_id === msg.id,
      120_000,
    );
    const first = posted(reply);
    const ids = idsOf(first);
    assert.equal(ids.length, 6, JSON.stringify(first.embeds[0]));
    const lines = (first.embeds[0]?.description ?? '').split('\n');
    lines.forEach((line, i) => {
      const p = shop.products.find((x) => x.id === ids[i]);
      assert.ok(p, `${ids[i]} is a product of the shop`);
      assert.ok(line.startsWith(`${i + 1}. [`), line);
      assert.ok(line.includes(`](${p.link})`), `${line} links to ${p.link}`);
      assert.ok(line.includes(p.price), `${line} shows ${p.price}`);
    });
    const buttons = first.components.flatMap((row) => row.components);
    assert.deepEqual(
      buttons.filter((b) => b.custom_id !== undefined).map((b) => b.custom_id),
      [1, 2, 3, 4, 5, 6].map((n) => `more:${n}`),
    );
    const open = buttons.find((b) => b.style === 5);
    assert.equal(open?.url, shop.products.find((x) => x.id === ids[0])?.link);

    const shopRequests = imageRequests();
    const cdnDownloads = fake.fileDownloads;
    const press = fake.pressButton({
      customId: 'more:3',
      message: { ...first, flags: 0 },
      user: { id: snowflake(), username: 'shopper' },
    });
    const edit = await fake.waitFor(
      (r) => r.method === 'PATCH' && r.path === `/webhooks/${fake.appId}/${press.token}/messages/@original`,
      120_000,
    );
    const more = posted(edit);
    const moreIds = idsOf(more);
    assert.ok(moreIds.length > 0);
    assert.ok(!moreIds.includes(ids[2]!), 'not item 3 itself');
    for (const id of moreIds) assert.ok(!ids.includes(id), `${id} was shown already`);
    assert.match(more.embeds[0]?.description ?? '', /^1\. \[.+\]\(https:\/\/\S+\)/);
    assert.equal(imageRequests(), shopRequests, 'no image asked of the shop');
    assert.equal(fake.fileDownloads, cdnDownloads, 'nothing downloaded from Discord');
  },
);
