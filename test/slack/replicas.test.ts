/**
 * Two Slack replicas behind a load balancer (issue 11): two real Bolt apps in HTTP mode, each
 * behind its own HTTP server and with its own service and Redis clients, one private Redis and
 * one loopback fake Slack. The real embedder (untrained weights) and catalog answer.
 *
 * - test 5: the same event delivered to both replicas (a Slack retry) is answered once;
 * - test 6: a user over the rate limit on replica A is limited on replica B too.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  createSimilarityService,
  DEFAULT_IMAGE_LIMITS,
  parseConfig,
  type SimilarityService,
  serviceSettingsFrom,
  USER_MESSAGES,
  withLocalClaims,
} from '@lookalike/core';
import { createFetcher } from '@lookalike/fetch';
import {
  closeRedis,
  createEventDeduper,
  createRedisClient,
  createSharedRateLimiter,
  type Redis,
} from '@lookalike/redis';
import { createCollageRenderer, createImageInspector } from '@lookalike/render';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { createSlackBot, type SlackBot } from '@lookalike/slack';
import { FakeSlack, type RecordedCall, SlackSigner } from '../fakes/slack.js';
import { type RecordingLogger, recordingLogger } from '../helpers/recording-logger.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { fileShareEvent, SIGNING_SECRET } from './harness.js';

const CHANNEL = 'C0SHOP';
const RATE_PER_MINUTE = 2;

interface Replica {
  name: string;
  redis: Redis;
  service: SimilarityService;
  bot: SlackBot;
  http: HttpServer;
  url: string;
  log: RecordingLogger;
}

let stack: TestStack;
let redisServer: RedisServer;
let fake: FakeSlack;
let photo: Buffer;
const replicas: Replica[] = [];

/** A replica: its own service (sharing the stack's embedder and catalog), Redis client, bot and HTTP server. */
async function startReplica(name: string): Promise<Replica> {
  const log = recordingLogger();
  const redis = createRedisClient(redisServer.url, { connectionName: `replica-${name}` });
  const settings = { ...serviceSettingsFrom(parseConfig({})), ratePerMinute: RATE_PER_MINUTE };
  const service = createSimilarityService({
    embedder: stack.embedder,
    catalog: stack.catalog,
    inspector: createImageInspector(DEFAULT_IMAGE_LIMITS),
    fetcher: createFetcher({
      allowedHosts: ['127.0.0.1'],
      allowPrivate: true,
      limits: DEFAULT_IMAGE_LIMITS,
      timeoutMs: 5000,
      connectTimeoutMs: 2000,
    }),
    collage: createCollageRenderer(),
    settings,
    logger: log,
    sharedRateLimiters: { chat: createSharedRateLimiter(redis, { ratePerMinute: RATE_PER_MINUTE }) },
    ownsDependencies: false,
  });
  const bot = createSlackBot({
    service,
    botToken: fake.botToken,
    signingSecret: SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    retries: 0,
    logger: log,
    claims: withLocalClaims(createEventDeduper(redis), { logger: log, name: 'Redis' }),
  });
  await bot.start();
  if (bot.route === undefined) throw new Error('HTTP mode has a route');
  const http = createHttpServer({ service, logger: log, localPage: false, routes: [bot.route] });
  const { port } = await http.listen(0, '127.0.0.1');
  return { name, redis, service, bot, http, url: `http://127.0.0.1:${port}/slack/events`, log };
}

before(async () => {
  stack = await createTestStack({ catalogSize: 12 });
  redisServer = await startRedis();
  fake = await FakeSlack.start();
  const first = stack.items.find((i) => i.path.endsWith('.jpg'));
  if (first === undefined) throw new Error('test catalog has no JPEG');
  photo = await readFile(first.path);
  replicas.push(await startReplica('a'), await startReplica('b'));
});

after(async () => {
  for (const r of replicas) {
    await r.bot.stop();
    await r.http.close();
    await r.service.close();
    await closeRedis(r.redis);
  }
  await fake?.stop();
  await redisServer?.stop();
  await stack?.close();
});

/**
 * Delivers one Events API envelope to a replica, signed as Slack signs it; `retry` adds Slack's
 * retry headers (what a redelivery to another replica carries).
 */
function deliver(replica: Replica, body: string, retry?: number): Promise<Response> {
  const ts = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': SlackSigner.sign(SIGNING_SECRET, ts, body),
  };
  if (retry !== undefined) {
    headers['x-slack-retry-num'] = String(retry);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  return fetch(replica.url, { method: 'POST', headers, body });
}

const resultLists = (threadTs: string): RecordedCall[] =>
  fake.calls.filter(
    (c) => c.method === 'chat.postMessage' && Array.isArray(c.args.blocks) && c.args.thread_ts === threadTs,
  );

/** "share already answered" lines of both replicas. */
const skips = (): number =>
  replicas.reduce((n, r) => n + r.log.entries.filter((e) => e.msg === 'share already answered').length, 0);

/** Polls `check` until it holds; a liveness bound of 120 s, not a timed assertion. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const inThread = (threadTs: string): RecordedCall[] =>
  fake.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === threadTs);

describe('Slack replicas on one Redis', () => {
  test('GIVEN the same share delivered to both replicas (a Slack retry) THEN it is answered once (issue 11, test 5)', async () => {
    const file = fake.addFile({ name: 'retry.jpg', mimetype: 'image/jpeg', bytes: photo, user: 'U1' });
    const ev = fileShareEvent(fake, { channel: CHANNEL, user: 'U1', files: [file] });
    const signer = new SlackSigner(replicas[0]!.url, SIGNING_SECRET, fake);
    const body = JSON.stringify(signer.eventBody(ev));
    const [a, b] = await Promise.all([deliver(replicas[0]!, body), deliver(replicas[1]!, body, 1)]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);

    // One replica answers; the other finds the share claimed (and says so in its log).
    await fake.waitFor(() => (resultLists(ev.ts).length > 0 ? true : undefined), 120_000);
    await eventually(() => skips() === 1, 'the other replica to find the share claimed');
    // Late redeliveries, to either replica, are not answered either.
    await deliver(replicas[0]!, body, 2);
    await deliver(replicas[1]!, body, 3);
    await eventually(() => skips() === 3, 'both redeliveries to be refused');
    assert.equal(resultLists(ev.ts).length, 1, 'one result list');
    assert.equal(
      fake.calls.filter((c) => c.method === 'files.completeUploadExternal' && c.args.thread_ts === ev.ts).length,
      1,
      'one collage',
    );
    assert.equal(
      fake.calls.filter((c) => c.method === 'download' && c.path.includes(file.id)).length,
      1,
      'downloaded once',
    );
  });

  test('GIVEN a user over the rate limit on replica A THEN replica B refuses them too (issue 11, test 6)', async () => {
    const files = [1, 2].map((n) =>
      fake.addFile({ name: `fast-${n}.jpg`, mimetype: 'image/jpeg', bytes: photo, user: 'U9' }),
    );
    // Two images on replica A: both answered, the user's whole budget.
    const first = fileShareEvent(fake, { channel: CHANNEL, user: 'U9', files });
    const signer = new SlackSigner(replicas[0]!.url, SIGNING_SECRET, fake);
    assert.equal((await deliver(replicas[0]!, JSON.stringify(signer.eventBody(first)))).status, 200);
    await fake.waitFor(() => (resultLists(first.ts).length >= 2 ? true : undefined), 120_000);

    // The next share, delivered to replica B: the shared bucket is empty.
    const third = fake.addFile({ name: 'fast-3.jpg', mimetype: 'image/jpeg', bytes: photo, user: 'U9' });
    const next = fileShareEvent(fake, { channel: CHANNEL, user: 'U9', files: [third] });
    assert.equal((await deliver(replicas[1]!, JSON.stringify(signer.eventBody(next)))).status, 200);
    const refusal = await fake.waitFor(() => inThread(next.ts)[0], 120_000);
    assert.equal(refusal.args.text, USER_MESSAGES.RATE_LIMITED);
    assert.equal(resultLists(next.ts).length, 0);
    assert.equal(
      fake.calls.filter((c) => c.method === 'download' && c.path.includes(third.id)).length,
      0,
      'refused before downloading',
    );

    // Another user on replica B is answered: the bucket is per user.
    const other = fake.addFile({ name: 'calm.jpg', mimetype: 'image/jpeg', bytes: photo, user: 'U10' });
    const calm = fileShareEvent(fake, { channel: CHANNEL, user: 'U10', files: [other] });
    await deliver(replicas[1]!, JSON.stringify(signer.eventBody(calm)));
    await fake.waitFor(() => (resultLists(calm.ts).length > 0 ? true : undefined), 120_000);
  });
});
