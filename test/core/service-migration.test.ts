/**
 * The service during a model change, on stand-ins for its ports: each query is embedded with the
 * model whose vectors answer (`answeringWeights()`), searched with that model's md5, retried once
 * with the new model when the catalog swapped in between, and the previous model is disposed once
 * the catalog no longer answers with it and no query holds it. The real stack is covered in
 * test/catalog/model-change.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CatalogPort,
  type CollageRenderer,
  createSimilarityService,
  type Embedder,
  LookalikeError,
  type ModelMigration,
  migrationText,
  parseConfig,
  type ReindexSummary,
  type SearchOptions,
  serviceSettingsFrom,
  type WeightsInfo,
} from '@lookalike/core';

const PHOTO = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const OLD: WeightsInfo = { source: 'keras-official', md5: 'a'.repeat(32), untrained: false, description: 'old model' };
const NEW: WeightsInfo = { source: 'file', md5: 'b'.repeat(32), untrained: false, description: 'new model' };
const SUMMARY: ReindexSummary = {
  added: 0,
  updated: 0,
  removed: 0,
  unchanged: 0,
  failed: 0,
  failedFiles: [],
  durationMs: 0,
  total: 0,
};

interface FakeModel extends Embedder {
  calls: number;
  disposed: boolean;
  /** Runs inside embed(), before it returns (e.g. the catalog swaps meanwhile). */
  during?: () => Promise<void> | void;
}

function model(weights: WeightsInfo): FakeModel {
  const m: FakeModel = {
    dimension: 4,
    runtime: 'onnx',
    weights,
    calls: 0,
    disposed: false,
    async embed(inputs) {
      if (m.disposed) throw new Error(`${weights.description} used after dispose`);
      m.calls++;
      await m.during?.();
      return inputs.map(() => new Float32Array(4));
    },
    async dispose() {
      m.disposed = true;
    },
  };
  return m;
}

/** A catalog in a model change from OLD to NEW, answering from OLD until `swap()`. */
function migratingCatalog() {
  const state = { answering: OLD, searches: [] as SearchOptions[], reindex: async () => {} };
  const migration = (): ModelMigration | null =>
    state.answering === OLD ? { answering: OLD, target: NEW, done: 3, total: 10, running: true } : null;
  const catalog: CatalogPort = {
    size: () => 10,
    search(_q, options) {
      state.searches.push(options);
      if (options.weightsMd5 !== state.answering.md5) {
        throw new LookalikeError('INDEX_MODEL_MISMATCH', 'query of other weights');
      }
      return [{ rank: 1, id: 'x', path: '/x.jpg', distance: 0.1, similarity: 0.95, metadata: {} }];
    },
    async reindex() {
      await state.reindex();
      return SUMMARY;
    },
    reindexProgress: () => null,
    facet: () => [],
    answeringWeights: () => state.answering,
    migration,
    async close() {},
  };
  const swap = (): void => {
    state.answering = NEW;
  };
  return { catalog, state, swap };
}

function serviceOver(catalog: CatalogPort, current: Embedder, previous?: Embedder) {
  const settings = serviceSettingsFrom(parseConfig({}));
  const collage: CollageRenderer = {
    async render() {
      return Buffer.from('jpeg');
    },
    clear() {},
    stats: () => ({ tiles: 0, hits: 0, misses: 0 }),
  };
  return createSimilarityService({
    embedder: current,
    ...(previous === undefined ? {} : { previousEmbedder: previous }),
    catalog,
    inspector: {
      limits: settings.image,
      inspect: async () => ({ kind: 'jpeg', width: 10, height: 10, pages: 1 }),
    },
    fetcher: { fetch: async () => Buffer.from(PHOTO), close: async () => {} },
    collage,
    settings,
  });
}

describe('SimilarityService during a model change', () => {
  test('GIVEN the catalog answers from the old vectors THEN queries are embedded with the previous model, searched with its md5, with the MODEL_MIGRATION notice', async () => {
    const { catalog, state } = migratingCatalog();
    const current = model(NEW);
    const previous = model(OLD);
    const service = serviceOver(catalog, current, previous);
    const answer = await service.findSimilar(PHOTO, { userId: 'u' });
    assert.deepEqual([previous.calls, current.calls], [1, 0]);
    assert.equal(state.searches[0]?.weightsMd5, OLD.md5);
    assert.equal(answer.weights, OLD, 'the answer names the model that answered');
    assert.equal(service.status().weights, OLD, '/api/status names the answering model too');
    const notice = answer.notices.find((n) => n.code === 'MODEL_MIGRATION');
    assert.deepEqual(notice, {
      code: 'MODEL_MIGRATION',
      level: 'info',
      text: 'Answering with the previous model (old model) while the catalog is re-embedded with new model: 3 of 10 done.',
    });
    assert.equal(previous.disposed, false, 'kept while the old vectors answer');
    await service.close();
    assert.equal(previous.disposed, true, 'close() disposes the previous model');
    assert.equal(current.disposed, true);
  });

  test('GIVEN the catalog swaps while a query is being embedded with the previous model THEN it is embedded again with the new one and answered, and the previous model is disposed', async () => {
    const { catalog, state, swap } = migratingCatalog();
    const current = model(NEW);
    const previous = model(OLD);
    previous.during = swap;
    const service = serviceOver(catalog, current, previous);
    const answer = await service.findSimilar(PHOTO, { userId: 'u' });
    assert.deepEqual([previous.calls, current.calls], [1, 1]);
    assert.deepEqual(
      state.searches.map((s) => s.weightsMd5),
      [OLD.md5, NEW.md5],
    );
    assert.equal(answer.weights, NEW);
    assert.ok(!answer.notices.some((n) => n.code === 'MODEL_MIGRATION'));
    assert.equal(previous.disposed, true);
    await service.close();
  });

  test('GIVEN the reindex completes the swap while a query holds the previous model THEN it is disposed only once that query let go', async () => {
    const { catalog, state, swap } = migratingCatalog();
    const current = model(NEW);
    const previous = model(OLD);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let embedding!: () => void;
    const started = new Promise<void>((r) => {
      embedding = r;
    });
    previous.during = () => {
      embedding();
      return held;
    };
    state.reindex = async () => {
      swap();
    };
    const service = serviceOver(catalog, current, previous);
    const query = service.findSimilar(PHOTO, { userId: 'u' });
    await started;
    await service.reindex();
    assert.equal(previous.disposed, false, 'a query still embeds with it');
    release();
    const answer = await query;
    assert.equal(answer.weights, NEW, 'the swap happened before its search: embedded again');
    assert.equal(previous.disposed, true);
    // From now on only the new model is used.
    await service.findSimilar(PHOTO, { userId: 'u' });
    assert.deepEqual([previous.calls, current.calls], [1, 2]);
    await service.close();
  });

  test('GIVEN a catalog that knows nothing of model changes THEN the loaded model answers and its md5 goes with the search', async () => {
    const { catalog, state } = migratingCatalog();
    const plain: CatalogPort = {
      size: catalog.size,
      search: catalog.search,
      reindex: catalog.reindex,
      reindexProgress: catalog.reindexProgress,
      facet: catalog.facet,
      close: catalog.close,
    };
    const current = model(NEW);
    state.answering = NEW;
    const service = serviceOver(plain, current);
    const answer = await service.findSimilar(PHOTO, { userId: 'u' });
    assert.equal(answer.weights, NEW);
    assert.equal(state.searches[0]?.weightsMd5, NEW.md5);
    await service.close();
  });

  test('GIVEN the search is refused for other weights without a swap THEN the error stands (no retry loop)', async () => {
    const { catalog, state } = migratingCatalog();
    const current = model(NEW);
    // No previous model: the new one is used while the catalog answers from OLD.
    const service = serviceOver(catalog, current);
    await assert.rejects(
      service.findSimilar(PHOTO, { userId: 'u' }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
    );
    assert.equal(current.calls, 1);
    assert.equal(state.searches.length, 1);
    await service.close();
  });

  test('GIVEN the new vectors answer as they are made THEN the notice says the new model answers', () => {
    const m: ModelMigration = { answering: NEW, target: NEW, done: 2104, total: 44_441, running: true };
    assert.equal(
      migrationText(m),
      'Answering with the new model (new model) from the items re-embedded so far: 2,104 of 44,441 done; the previous vectors are kept until it completes.',
    );
    assert.match(migrationText({ ...m, running: false }), /done \(the next reindex continues it\); /);
  });
});
