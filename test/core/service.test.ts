/**
 * The SimilarityService on the real stack: limits, queue, single-flight reindex, answer
 * policy, notices and the collage.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '@lookalike/catalog';
import {
  createRateLimiter,
  NO_CLOSE_MATCH_TEXT,
  noCloseMatchNotice,
  type SimilarItem,
  UNTRAINED_TEXT,
} from '@lookalike/core';
import { collageSize, renderCollage } from '@lookalike/render';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

describe('rate limiter (token bucket)', () => {
  test('GIVEN 5 per minute THEN the 6th call in a minute is refused and tokens come back over time', () => {
    let now = 1_000_000;
    const rl = createRateLimiter({ ratePerMinute: 5, now: () => now });
    for (let i = 0; i < 5; i++) assert.equal(rl.take('u').allowed, true);
    const sixth = rl.take('u');
    assert.equal(sixth.allowed, false);
    assert.ok(sixth.retryAfterMs > 0 && sixth.retryAfterMs <= 12_000);
    assert.equal(rl.take('other').allowed, true, 'buckets are per user');
    now += 12_000; // one token per 12 s
    assert.equal(rl.take('u').allowed, true);
    assert.equal(rl.take('u').allowed, false);
  });

  test('GIVEN many users THEN memory stays bounded (idle buckets evicted, hard cap kept)', () => {
    let now = 0;
    const rl = createRateLimiter({ ratePerMinute: 5, now: () => now, maxBuckets: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`user-${i}`);
    assert.equal(rl.size(), 100);
    now += 61_000;
    rl.take('late');
    assert.equal(rl.size(), 1, 'buckets that refilled completely are forgotten');
  });
});

describe('SimilarityService on the real stack', () => {
  let stack: TestStack;
  let clock = 5_000_000;
  let query: Buffer;
  let queryId: string;

  before(async () => {
    stack = await createTestStack({
      catalogSize: 24,
      limits: { ratePerMinute: 5 },
      service: { now: () => clock },
    });
    const item = stack.items[0];
    assert.ok(item !== undefined);
    query = await readFile(item.path);
    queryId = item.id;
  });

  after(async () => {
    await stack?.close();
  });

  test('GIVEN a catalog photo THEN 6 ranked results with metadata, its duplicate left out', async () => {
    const answer = await stack.service.findSimilar(query, { userId: 'dup' });
    assert.equal(answer.results.length, 6);
    assert.deepEqual(
      answer.results.map((r) => r.rank),
      [1, 2, 3, 4, 5, 6],
    );
    assert.ok(!answer.results.some((r) => r.id === queryId), 'the exact duplicate is excluded by default');
    for (let i = 1; i < answer.results.length; i++) {
      assert.ok((answer.results[i]?.distance ?? 0) >= (answer.results[i - 1]?.distance ?? 0));
    }
    for (const r of answer.results) {
      assert.ok(r.metadata.articleType !== undefined && r.metadata.productDisplayName !== undefined);
      assert.ok(Math.abs(r.similarity - (1 - r.distance / 2)) < 1e-9);
    }
    assert.match(answer.requestId, /^[\w-]+$/);

    const withDup = await stack.service.findSimilar(query, { userId: 'dup', excludeDuplicates: false });
    assert.equal(withDup.results[0]?.id, queryId);
    assert.ok((withDup.results[0]?.distance ?? 1) < 1e-5);
  });

  test('GIVEN untrained weights THEN the answer carries the untrained notice', async () => {
    const answer = await stack.service.findSimilar(query, { userId: 'untrained' });
    assert.equal(answer.weights.untrained, true);
    assert.deepEqual(answer.notices[0], { code: 'UNTRAINED', text: UNTRAINED_TEXT, level: 'warn' });
    assert.equal(UNTRAINED_TEXT, 'Untrained model: results are not meaningful.');
    assert.ok(!answer.notices.some((n) => n.code === 'INDEXING'), 'no reindex runs');
  });

  test('GIVEN a far-distance threshold below the best result THEN noCloseMatch and its notice, still 6 results', async () => {
    const strict = stack.serviceWith({ farDistance: 0 });
    try {
      const far = await strict.findSimilar(query, { userId: 'far' });
      assert.equal(far.noCloseMatch, true);
      assert.ok(far.notices.some((n) => n.code === 'NO_CLOSE_MATCH' && n.text === NO_CLOSE_MATCH_TEXT));
      assert.equal(far.results.length, 6);
    } finally {
      await strict.close();
    }
    const near = await stack.service.findSimilar(query, { userId: 'far' });
    assert.equal(near.noCloseMatch, false, 'the default threshold (0.5) is above these distances');
    assert.ok(!near.notices.some((n) => n.code === 'NO_CLOSE_MATCH'));
  });

  test('GIVEN filters THEN every result matches them', async () => {
    const answer = await stack.service.findSimilar(query, {
      userId: 'filters',
      filters: { articleType: 'Shirts' },
      k: 3,
    });
    assert.ok(answer.results.length > 0 && answer.results.length <= 3);
    for (const r of answer.results) assert.equal(r.metadata.articleType, 'Shirts');
  });

  test('GIVEN 5 queries per minute THEN the 6th is RATE_LIMITED, others are not, and it recovers with time', async () => {
    const chat = { surface: 'discord' } as const;
    for (let i = 0; i < 5; i++) await stack.service.findSimilar(query, { userId: 'rate', ...chat });
    const err = await rejectsWith(stack.service.findSimilar(query, { userId: 'rate', ...chat }), 'RATE_LIMITED');
    assert.ok(Number(err.details.retryAfterMs) > 0);
    await stack.service.findSimilar(query, { userId: 'someone-else', ...chat });
    clock += 12_000;
    await stack.service.findSimilar(query, { userId: 'rate', ...chat });
  });

  test('GIVEN a full queue THEN BUSY, and the queued ones still finish', async () => {
    const tight = stack.serviceWith({ concurrency: 1, queueMax: 1, ratePerMinute: 100 });
    try {
      const calls = [0, 1, 2, 3].map((i) => tight.findSimilar(query, { userId: `q${i}` }));
      const settled = await Promise.allSettled(calls);
      assert.equal(settled[0]?.status, 'fulfilled', 'the running one');
      assert.equal(settled[1]?.status, 'fulfilled', 'the queued one');
      for (const s of settled.slice(2)) {
        assert.equal(s.status, 'rejected');
        assert.equal((s as PromiseRejectedResult).reason.code, 'BUSY');
      }
      assert.deepEqual([tight.status().queueDepth, tight.status().inFlight], [0, 0]);
    } finally {
      await tight.close();
    }
  });

  test('GIVEN a running reindex THEN a second one gets REINDEX_IN_PROGRESS with its progress', async () => {
    const first = stack.service.reindex();
    const err = await rejectsWith(stack.service.reindex(), 'REINDEX_IN_PROGRESS');
    assert.ok('progress' in err.details);
    const summary = await first;
    assert.equal(summary.added, 0, 'nothing changed');

    // Single flight also holds when the reindex was started on the catalog itself.
    const direct = stack.catalog.reindex();
    await rejectsWith(stack.service.reindex(), 'REINDEX_IN_PROGRESS');
    await direct;
  });

  test('GIVEN an empty catalog THEN INDEX_EMPTY', async () => {
    const dataDir = join(stack.root, 'empty-data');
    const empty = await openCatalog({ dataDir, embedder: stack.embedder });
    const svc = stack.serviceWith({}, empty);
    try {
      await rejectsWith(svc.findSimilar(query, { userId: 'empty' }), 'INDEX_EMPTY');
      assert.equal(svc.status().catalogSize, 0);
    } finally {
      await svc.close();
      await empty.close();
    }
  });

  test('GIVEN an answer THEN the collage is a JPEG ≤ 1 MB of the layout size, and images() gives safe files', async () => {
    const answer = await stack.service.findSimilar(query, { userId: 'collage' });
    assert.ok(answer.collage.length <= 1_000_000, `collage is ${answer.collage.length} bytes`);
    const meta = await sharp(answer.collage).metadata();
    assert.equal(meta.format, 'jpeg');
    const expected = collageSize(6, answer.notices.length);
    assert.deepEqual([meta.width, meta.height], [expected.width, expected.height]);
    await writeFile(join(TEST_TMP_DIR, 'collage.jpg'), answer.collage);

    const images = await answer.images();
    assert.equal(images.length, 6);
    for (const img of images) {
      assert.match(img.filename, /^[1-6]-[a-z0-9-]+\.(jpg|png)$/);
      assert.ok(['image/jpeg', 'image/png'].includes(img.contentType));
      assert.ok(img.bytes.length > 0);
    }
    assert.deepEqual(
      images.map((i) => i.rank),
      [1, 2, 3, 4, 5, 6],
    );
  });

  test('GIVEN status() and facets() THEN they describe the catalog', async () => {
    const s = stack.service.status();
    assert.equal(s.catalogSize, 24);
    assert.equal(s.runtime, 'onnx');
    assert.equal(s.reindexing, false);
    assert.equal(s.weights.untrained, true);
    const f = stack.service.facets();
    assert.ok(f.articleTypes.includes('Shirts'));
    assert.ok(f.genders.length > 0);
  });
});

describe('collage drawing', () => {
  test('GIVEN names with XML specials, long text and a missing image THEN a valid JPEG', async () => {
    const item = (rank: number, name: string): SimilarItem => ({
      rank,
      id: `id-${rank}`,
      path: `/nonexistent/${rank}.jpg`,
      distance: 0.1 * rank,
      similarity: 1 - 0.05 * rank,
      metadata: { productDisplayName: name, articleType: 'Tops & <Tees>', baseColour: `"Red" 'n' Blue` },
    });
    const png = await sharp({ create: { width: 120, height: 160, channels: 3, background: '#884422' } })
      .png()
      .toBuffer();
    const results = [
      item(1, 'Tom & Jerry <script>alert("x")</script> Shirt'),
      item(2, `A${'very long name '.repeat(20)}`),
      item(3, ']]> <!-- --> &amp; \u0001 control'),
      item(4, 'Ünïcödé Ärtïclé ✓'),
    ];
    const jpeg = await renderCollage(results, {
      weights: { source: 'file', md5: 'x', untrained: false, description: 'ResNet50 <custom> & "weights"' },
      notices: [noCloseMatchNotice()],
      loadImage: async (it) => {
        if (it.rank === 2) throw new Error('missing file');
        return png;
      },
    });
    const meta = await sharp(jpeg).metadata();
    const expected = collageSize(4, 1);
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', expected.width, expected.height]);
    await writeFile(join(TEST_TMP_DIR, 'collage-hostile.jpg'), jpeg);
  });
});
