/**
 * The service's shared rate limit (issue 11, test 6): two services standing for two replicas,
 * each with its own Redis client on one private Redis, share every user's bucket; while Redis is
 * down each falls back to its own limiter (one warning per outage) and answers on.
 * The ports other than the limiter are stand-ins (no model): the limiter is what is under test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type CatalogPort,
  type CollageRenderer,
  createSimilarityService,
  type Embedder,
  type ImageFetcher,
  type ImageInspector,
  type Logger,
  parseConfig,
  type SimilarityService,
  serviceSettingsFrom,
} from '@lookalike/core';
import { closeRedis, createRedisClient, createSharedRateLimiter, type Redis } from '@lookalike/redis';
import { rejectsWith } from '../helpers/assert.js';
import { type RecordingLogger, recordingLogger } from '../helpers/recording-logger.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const PHOTO = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const CHAT_RATE = 2;
const PAGE_RATE = 3;

/** One replica's service over stand-in ports, with the shared limiters on its own Redis client. */
function replica(redis: Redis, logger: Logger, prefix: string): SimilarityService {
  const embedder: Embedder = {
    dimension: 4,
    runtime: 'onnx',
    weights: { source: 'untrained', md5: 'm', untrained: false, description: 'test weights' },
    embed: async (inputs) => inputs.map(() => new Float32Array(4)),
    async dispose() {},
  };
  const catalog: CatalogPort = {
    size: () => 10,
    search: (_q, o) =>
      Array.from({ length: o.k }, (_, i) => ({
        rank: i + 1,
        id: `i${i + 1}`,
        path: `/x/${i + 1}.jpg`,
        distance: 0.1,
        similarity: 0.95,
        metadata: {},
      })),
    reindex: async () => {
      throw new Error('not used');
    },
    reindexProgress: () => null,
    facet: () => [],
    async close() {},
  };
  const settings = {
    ...serviceSettingsFrom(parseConfig({})),
    ratePerMinute: CHAT_RATE,
    pageRatePerMinute: PAGE_RATE,
  };
  const inspector: ImageInspector = {
    limits: settings.image,
    inspect: async () => ({ kind: 'jpeg', width: 10, height: 10, pages: 1 }),
  };
  const fetcher: ImageFetcher = { fetch: async () => Buffer.from(PHOTO), async close() {} };
  const collage: CollageRenderer = {
    render: async () => Buffer.from('jpeg'),
    clear() {},
    stats: () => ({ tiles: 0, hits: 0, misses: 0 }),
  };
  return createSimilarityService({
    embedder,
    catalog,
    inspector,
    fetcher,
    collage,
    settings,
    logger,
    sharedRateLimiters: {
      chat: createSharedRateLimiter(redis, { ratePerMinute: CHAT_RATE, prefix: `${prefix}chat:` }),
      page: createSharedRateLimiter(redis, { ratePerMinute: PAGE_RATE, prefix: `${prefix}page:` }),
    },
  });
}

const ask = (s: SimilarityService, userId: string, surface: 'slack' | 'discord' | 'page' = 'slack') =>
  s.findSimilar(PHOTO, { userId, surface });

let server: RedisServer;
let redisA: Redis;
let redisB: Redis;
let logA: RecordingLogger;
let logB: RecordingLogger;
let a: SimilarityService;
let b: SimilarityService;

before(async () => {
  server = await startRedis();
  // Few retries per command: an outage shows as errors quickly (the service's deadline covers the rest).
  redisA = createRedisClient(server.url, { connectionName: 'replica-a', maxRetriesPerRequest: 1 });
  redisB = createRedisClient(server.url, { connectionName: 'replica-b', maxRetriesPerRequest: 1 });
  logA = recordingLogger();
  logB = recordingLogger();
  a = replica(redisA, logA, 't6:');
  b = replica(redisB, logB, 't6:');
});

after(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all([redisA && closeRedis(redisA), redisB && closeRedis(redisB)]);
  await server?.stop();
});

/** Resolves once `redis` is connected and answers. */
async function ready(redis: Redis): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if (redis.status === 'ready' && (await redis.ping()) === 'PONG') return;
    } catch {
      // still reconnecting
    }
    if (Date.now() > deadline) throw new Error('Redis did not come back within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('shared rate limit across replicas (issue 11, test 6)', () => {
  test('GIVEN a user over the limit on replica A THEN replica B limits them too; others and the page budget are apart', async () => {
    await ask(a, 'slack:T1:U1');
    await ask(a, 'slack:T1:U1');
    const err = await rejectsWith(ask(b, 'slack:T1:U1'), 'RATE_LIMITED');
    assert.ok(Number(err.details.retryAfterMs) > 0, 'B says when to try again');
    await rejectsWith(ask(a, 'slack:T1:U1'), 'RATE_LIMITED');
    // Another user has a bucket of their own, on either replica.
    await ask(b, 'slack:T1:U2');
    // The page budget is its own: a client's uploads count against the page bucket only.
    for (let i = 0; i < PAGE_RATE; i++) await ask(i % 2 === 0 ? a : b, 'web:10.0.0.1', 'page');
    await rejectsWith(ask(a, 'web:10.0.0.1', 'page'), 'RATE_LIMITED');
    await rejectsWith(ask(b, 'web:10.0.0.1', 'page'), 'RATE_LIMITED');
    assert.equal(logA.entries.filter((e) => e.level === 'warn').length, 0, 'no fallback while Redis answers');
  });

  test('GIVEN Redis down THEN each replica limits on its own, warning once per outage; once back, the bucket is shared again', async () => {
    await server.down();
    // Replica A answers from its own limiter: CHAT_RATE queries, then RATE_LIMITED.
    for (let i = 0; i < CHAT_RATE; i++) await ask(a, 'slack:T1:U3');
    await rejectsWith(ask(a, 'slack:T1:U3'), 'RATE_LIMITED');
    // Replica B knows nothing of A's local bucket during the outage.
    await ask(b, 'slack:T1:U3');
    const warnings = logA.entries.filter(
      (e) => e.level === 'warn' && /shared rate limit unavailable/.test(e.msg ?? ''),
    );
    assert.equal(warnings.length, 1, 'one warning for the outage, however many queries');
    assert.equal(warnings[0]?.obj.limiter, 'chat');

    await server.up();
    await Promise.all([ready(redisA), ready(redisB)]);
    await ask(a, 'slack:T1:U4');
    await logA.waitFor((e) => e.level === 'info' && /shared rate limit answers again/.test(e.msg ?? ''));
    await ask(a, 'slack:T1:U4');
    await rejectsWith(ask(b, 'slack:T1:U4'), 'RATE_LIMITED');
    assert.equal(
      logA.entries.filter((e) => e.level === 'warn' && /shared rate limit unavailable/.test(e.msg ?? '')).length,
      1,
    );
  });
});
