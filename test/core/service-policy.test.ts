/**
 * The service's decisions, in the order the issue fixes (closed → catalog state → rate limit →
 * download → inspect → embed → search → notices → collage), on stand-ins for its ports that
 * record what was called. The real stack (ONNX, FAISS, sharp) is covered in service.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CatalogPort,
  type CollageRenderer,
  createSimilarityService,
  type Embedder,
  type FetchOptions,
  type ImageFetcher,
  type ImageInspector,
  imageTooLarge,
  imageTooLargeSentence,
  indexingText,
  LookalikeError,
  parseConfig,
  type ReindexProgress,
  type ReindexSummary,
  type ServiceObserver,
  type ServiceSettings,
  type SimilarItem,
  serviceSettingsFrom,
} from '@lookalike/core';
import { rejectsWith } from '../helpers/assert.js';

const PHOTO = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

function progress(over: Partial<ReindexProgress> = {}): ReindexProgress {
  return {
    phase: 'embedding',
    done: 0,
    total: 100,
    rate: 10,
    etaSeconds: 65,
    startedAt: 0,
    searchable: 0,
    expected: 44_441,
    ...over,
  };
}

interface Rig {
  calls: string[];
  state: { size: number; progress: ReindexProgress | null };
  fetched: { url: string; options: FetchOptions | undefined }[];
  outcomes: [string, string][];
  settings: ServiceSettings;
}

function rig(overSettings: Partial<ServiceSettings> = {}, now = () => 0) {
  const r: Rig = {
    calls: [],
    state: { size: 10, progress: null },
    fetched: [],
    outcomes: [],
    settings: { ...serviceSettingsFrom(parseConfig({})), ...overSettings },
  };
  const result = (rank: number): SimilarItem => ({
    rank,
    id: `i${rank}`,
    path: `/x/${rank}.jpg`,
    distance: 0.1,
    similarity: 0.95,
    metadata: {},
  });
  const embedder: Embedder = {
    dimension: 4,
    runtime: 'onnx',
    weights: { source: 'untrained', md5: 'm', untrained: false, description: 'test weights' },
    async embed(inputs, options) {
      r.calls.push(`embed:${options?.priority ?? 'none'}`);
      return inputs.map(() => new Float32Array(4));
    },
    async dispose() {},
  };
  const catalog: CatalogPort = {
    size: () => r.state.size,
    search(_q, o) {
      r.calls.push('search');
      return Array.from({ length: Math.min(o.k, r.state.size) }, (_, i) => result(i + 1));
    },
    async reindex(): Promise<ReindexSummary> {
      throw new Error('not used');
    },
    reindexProgress: () => r.state.progress,
    facet: () => [],
    async close() {},
  };
  const inspector: ImageInspector = {
    limits: r.settings.image,
    async inspect(bytes) {
      r.calls.push('inspect');
      if (bytes.length > r.settings.image.maxBytes) throw imageTooLarge('too big', r.settings.image);
      return { kind: 'jpeg', width: 10, height: 10, pages: 1 };
    },
  };
  const fetcher: ImageFetcher = {
    async fetch(url, options) {
      r.calls.push('download');
      r.fetched.push({ url, options });
      return Buffer.from(PHOTO);
    },
    async close() {},
  };
  const collage: CollageRenderer = {
    async render() {
      r.calls.push('collage');
      return Buffer.from('jpeg');
    },
    clear() {},
    stats: () => ({ tiles: 0, hits: 0, misses: 0 }),
  };
  const observer: ServiceObserver = {
    request: (surface, outcome) => r.outcomes.push([surface, outcome]),
    stage: () => {},
  };
  const service = createSimilarityService({
    embedder,
    catalog,
    inspector,
    fetcher,
    collage,
    settings: r.settings,
    observer,
    now,
  });
  return { r, service };
}

describe('SimilarityService policy', () => {
  test('GIVEN a URL reference THEN it downloads with its headers, then inspect → embed (interactive) → search → collage', async () => {
    const { r, service } = rig();
    const answer = await service.findSimilar(
      { url: 'https://files.example/a.jpg', headers: { authorization: 'Bearer t' }, notImageHint: 'hint' },
      { userId: 'u', surface: 'slack', requestId: 'req1' },
    );
    assert.deepEqual(r.calls, ['download', 'inspect', 'embed:interactive', 'search', 'collage']);
    assert.deepEqual(r.fetched, [
      {
        url: 'https://files.example/a.jpg',
        options: { requestId: 'req1', headers: { authorization: 'Bearer t' }, notImageHint: 'hint' },
      },
    ]);
    assert.equal(answer.results.length, 6);
    assert.deepEqual(r.outcomes, [['slack', 'ok']]);
    await service.close();
  });

  test('GIVEN nothing indexed and no reindex THEN INDEX_EMPTY, before any download or rate-limit token', async () => {
    const { r, service } = rig({ ratePerMinute: 1 });
    r.state.size = 0;
    await rejectsWith(service.findSimilar({ url: 'https://x/a.jpg' }, { userId: 'u' }), 'INDEX_EMPTY');
    assert.deepEqual(r.calls, [], 'nothing downloaded or embedded');
    r.state.size = 10;
    await service.findSimilar(PHOTO, { userId: 'u' });
    assert.deepEqual(r.outcomes, [
      ['page', 'INDEX_EMPTY'],
      ['page', 'ok'],
    ]);
    await service.close();
  });

  test('GIVEN a first index that has committed nothing yet THEN INDEX_BUILDING with its ETA, never "an admin needs to run /reindex"', async () => {
    const { r, service } = rig();
    r.state.size = 0;
    r.state.progress = progress({ etaSeconds: 65 });
    const err = await rejectsWith(service.findSimilar(PHOTO, { userId: 'u' }), 'INDEX_BUILDING');
    assert.match(err.userMessage, /being indexed right now/);
    assert.match(err.userMessage, /0 of 44,441 items/);
    assert.match(err.userMessage, /about 1:05 left/);
    assert.doesNotMatch(err.userMessage, /admin/);
    r.state.progress = progress({ phase: 'scanning', expected: null, etaSeconds: null });
    const scanning = await rejectsWith(service.findSimilar(PHOTO, { userId: 'u' }), 'INDEX_BUILDING');
    assert.doesNotMatch(scanning.userMessage, /left|of \d/);
    await service.close();
  });

  test('GIVEN a reindex running over a partly searchable catalog THEN results plus the INDEXING notice with counts', async () => {
    const { r, service } = rig();
    r.state.size = 2104;
    r.state.progress = progress({ searchable: 2000, expected: 44_441 });
    const answer = await service.findSimilar(PHOTO, { userId: 'u' });
    const notice = answer.notices.find((n) => n.code === 'INDEXING');
    assert.ok(notice !== undefined, 'indexing notice present');
    assert.equal(notice.text, 'Catalog still indexing: 2,104 of 44,441 items searchable so far.');
    assert.equal(notice.level, 'info');
    r.state.progress = null;
    const idle = await service.findSimilar(PHOTO, { userId: 'u' });
    assert.ok(!idle.notices.some((n) => n.code === 'INDEXING'));
    await service.close();
  });

  test('GIVEN the rate limit is reached THEN RATE_LIMITED comes before any download', async () => {
    const { r, service } = rig({ ratePerMinute: 1 });
    await service.findSimilar({ url: 'https://x/1.jpg' }, { userId: 'u', surface: 'slack' });
    r.calls.length = 0;
    await rejectsWith(
      service.findSimilar({ url: 'https://x/2.jpg' }, { userId: 'u', surface: 'slack' }),
      'RATE_LIMITED',
    );
    assert.deepEqual(r.calls, []);
    await service.close();
  });

  test('GIVEN separate page and chat budgets THEN the page keeps its own limit and chat users keep theirs', async () => {
    const { service } = rig({ ratePerMinute: 1, pageRatePerMinute: 3 });
    for (let i = 0; i < 3; i++) await service.findSimilar(PHOTO, { userId: 'web:1', surface: 'page' });
    const page = await rejectsWith(service.findSimilar(PHOTO, { userId: 'web:1', surface: 'page' }), 'RATE_LIMITED');
    assert.match(page.message, /3\/min/);
    await service.findSimilar(PHOTO, { userId: 'u1', surface: 'discord' });
    await rejectsWith(service.findSimilar(PHOTO, { userId: 'u1', surface: 'discord' }), 'RATE_LIMITED');
    // One budget does not draw on the other, even for the same id.
    await service.findSimilar(PHOTO, { userId: 'web:1', surface: 'slack' });
    await service.close();
  });

  test('GIVEN a closed service THEN BUSY before the catalog is even looked at', async () => {
    const { r, service } = rig();
    r.state.size = 0;
    await service.close();
    await rejectsWith(service.findSimilar(PHOTO, { userId: 'u' }), 'BUSY');
  });

  test('GIVEN configured image limits THEN IMAGE_TOO_LARGE quotes them to the user', async () => {
    const { service } = rig({ image: { maxBytes: 4, maxPixels: 12_000_000 } });
    const err = await rejectsWith(service.findSimilar(PHOTO, { userId: 'u' }), 'IMAGE_TOO_LARGE');
    assert.equal(err.userMessage, imageTooLargeSentence({ maxBytes: 4, maxPixels: 12_000_000 }));
    assert.match(err.userMessage, /12 megapixels/);
    assert.match(
      imageTooLargeSentence({ maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 }),
      /20 MB and 40 megapixels/,
    );
    await service.close();
  });

  test('GIVEN progress while scanning THEN the notice leaves the unknown total out', () => {
    assert.equal(
      indexingText(progress({ searchable: 12, expected: null })),
      'Catalog still indexing: 12 items searchable so far.',
    );
  });

  test('GIVEN an internal failure THEN the observer records its code and the error is not user-facing', async () => {
    const { r, service } = rig();
    const failing = createSimilarityService({
      embedder: {
        dimension: 4,
        runtime: 'onnx',
        weights: { source: 'file', md5: 'm', untrained: false, description: 'w' },
        embed: async () => {
          throw new LookalikeError('INTERNAL', 'worker died');
        },
        dispose: async () => {},
      },
      catalog: { ...fakeCatalogOf(r) },
      inspector: { limits: r.settings.image, inspect: async () => ({ kind: 'jpeg', width: 1, height: 1, pages: 1 }) },
      fetcher: { fetch: async () => Buffer.alloc(0), close: async () => {} },
      collage: { render: async () => Buffer.alloc(0), clear() {}, stats: () => ({ tiles: 0, hits: 0, misses: 0 }) },
      settings: r.settings,
      observer: { request: (s, o) => r.outcomes.push([s, o]), stage: () => {} },
    });
    const err = await rejectsWith(failing.findSimilar(PHOTO, { userId: 'u', surface: 'discord' }), 'INTERNAL');
    assert.equal(err.isUserFacing, false);
    assert.deepEqual(r.outcomes, [['discord', 'INTERNAL']]);
    await failing.close();
    await service.close();
  });
});

function fakeCatalogOf(r: Rig): CatalogPort {
  return {
    size: () => r.state.size,
    search: () => [],
    reindex: async () => {
      throw new Error('not used');
    },
    reindexProgress: () => r.state.progress,
    facet: () => [],
    close: async () => {},
  };
}
