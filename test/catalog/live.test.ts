/**
 * Searchable while indexing, through the SimilarityService on the real stack (SQLite, FAISS,
 * ONNX Runtime with untrained weights): answers during a reindex carry the INDEXING notice, a
 * query before anything is committed gets INDEX_BUILDING (never INDEX_EMPTY), the event loop
 * stays responsive, and an HNSW catalog with removals answers without them, then compacts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Catalog, openCatalog, scanImages } from '@lookalike/catalog';
import {
  createSimilarityService,
  type Embedder,
  type EmbedOptions,
  type ImageInput,
  LookalikeError,
  parseConfig,
  type SimilarityService,
  serviceSettingsFrom,
} from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { createFetcher } from '@lookalike/fetch';
import { createCollageRenderer, createImageInspector } from '@lookalike/render';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { steppedEmbedder } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-live-${process.pid}`);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = join(REPO, '..', 'shared', 'data', 'fashion-sample');
const LIVE_COUNT = 320;
const BATCH = 8;
const INDEXING_TEXT = /^Catalog still indexing: ([\d,]+) of ([\d,]+) items searchable so far\.$/;

let real: ImageEmbedder;

/** The service as packages/runtime wires it (not owning the embedder: the tests share one). */
function serviceOver(embedder: Embedder, catalog: Catalog): SimilarityService {
  const config = parseConfig({ LOOKALIKE_RATE_PER_MINUTE: '1000' });
  return createSimilarityService({
    embedder,
    catalog,
    inspector: createImageInspector(config.image),
    fetcher: createFetcher({ ...config.fetch, limits: config.image }),
    collage: createCollageRenderer(),
    settings: serviceSettingsFrom(config),
    ownsDependencies: false,
  });
}

/** Holds batch (catalog) calls once `after` of them got through, until `resume()`. Queries pass. */
function pausingEmbedder(inner: Embedder, afterCalls: number) {
  let passed = 0;
  let resume!: () => void;
  const gate = new Promise<void>((r) => {
    resume = r;
  });
  let reached!: () => void;
  const paused = new Promise<void>((r) => {
    reached = r;
  });
  const embedder: Embedder = {
    dimension: inner.dimension,
    runtime: inner.runtime,
    weights: inner.weights,
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (options?.priority === 'batch' && ++passed > afterCalls) {
        reached();
        await gate;
      }
      return inner.embed(inputs, options);
    },
    dispose: () => Promise.resolve(),
  };
  return { embedder, paused, resume: () => resume() };
}

/** A folder of LIVE_COUNT photos: the fashion sample (symlinked) when present, else drawn ones. */
async function liveImages(): Promise<{ imagesDir: string; labelsPath: string | undefined; source: string }> {
  if (existsSync(join(SAMPLE, 'images'))) {
    const imagesDir = join(ROOT, 'sample');
    await mkdir(imagesDir, { recursive: true });
    const files = (await scanImages(join(SAMPLE, 'images'))).files.slice(0, LIVE_COUNT);
    for (const f of files) await symlink(f.absPath, join(imagesDir, f.relPath));
    return { imagesDir, labelsPath: join(SAMPLE, 'labels.csv'), source: 'fashion-sample' };
  }
  const demo = await makeTestCatalog(join(ROOT, 'drawn'), { count: LIVE_COUNT, width: 160 });
  return { imagesDir: demo.imagesDir, labelsPath: demo.labelsPath, source: 'drawn demo catalog' };
}

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir, batchSize: BATCH });
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

describe('searchable while indexing (through the service)', () => {
  it(`GIVEN a first reindex of ${LIVE_COUNT} images THEN a concurrent query gets results with the indexing notice, and the event loop stays responsive`, async (t) => {
    const { imagesDir, labelsPath, source } = await liveImages();
    t.diagnostic(`images: ${source}`);
    const pausing = pausingEmbedder(real, 6 * BATCH);
    const catalog = await openCatalog({
      dataDir: join(ROOT, 'data-live'),
      imagesDir,
      labelsPath,
      embedder: pausing.embedder,
      batchSize: BATCH,
    });
    const service = serviceOver(pausing.embedder, catalog);
    const query = await readFile(join(imagesDir, (await scanImages(imagesDir)).files[0]!.relPath));
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    try {
      const run = service.reindex();
      // Catalog work is held after 48 images: a query now runs in the middle of the first index.
      await pausing.paused;
      while (catalog.size() === 0) await new Promise((r) => setImmediate(r));
      const answer = await service.findSimilar(query, { userId: 'during', k: 6 });
      pausing.resume();
      assert.ok(answer.results.length > 0, 'results while the first index runs');
      assert.ok(answer.results.length <= 6);
      const indexing = answer.notices.find((n) => n.code === 'INDEXING');
      assert.ok(indexing, `an INDEXING notice (got ${answer.notices.map((n) => n.code).join(', ')})`);
      const m = INDEXING_TEXT.exec(indexing.text);
      assert.ok(m, indexing.text);
      const searchable = Number(m[1]!.replaceAll(',', ''));
      const expected = Number(m[2]!.replaceAll(',', ''));
      assert.ok(searchable > 0 && searchable < expected, indexing.text);
      assert.ok(searchable <= 6 * BATCH);
      assert.ok(expected <= LIVE_COUNT && expected >= LIVE_COUNT - 5, `expected ${expected}`);
      t.diagnostic(indexing.text);

      const summary = await run;
      assert.equal(summary.added + summary.failed, LIVE_COUNT);
      assert.equal(catalog.size(), summary.added);
      assert.ok(expected >= catalog.size(), 'expected only shrinks when files fail');
      const idle = await service.findSimilar(query, { userId: 'after', k: 6 });
      assert.equal(idle.results.length, 6);
      assert.ok(!idle.notices.some((n) => n.code === 'INDEXING'), 'no notice once the run ended');
      await catalog.whenIdle();
    } finally {
      lag.disable();
      pausing.resume();
      await service.close();
      await catalog.close();
    }
    const maxMs = lag.max / 1e6;
    t.diagnostic(
      `event-loop lag during the reindex: p50 ${(lag.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${maxMs.toFixed(1)} ms`,
    );
    assert.ok(maxMs < 500, `event-loop lag max ${maxMs.toFixed(0)} ms (bound 500 ms)`);
  });

  it('GIVEN a first reindex that has committed nothing yet THEN a query gets INDEX_BUILDING, never INDEX_EMPTY', async () => {
    const cat: TestCatalog = await makeTestCatalog(join(ROOT, 'small'), { count: 16, width: 160 });
    const gated = steppedEmbedder(real);
    const catalog = await openCatalog({
      dataDir: join(ROOT, 'data-first'),
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      embedder: gated,
      batchSize: BATCH,
    });
    const service = serviceOver(gated, catalog);
    const query = await readFile(join(cat.imagesDir, cat.items[3]!.file));
    try {
      await assert.rejects(
        service.findSimilar(query, { userId: 'before' }),
        (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_EMPTY',
        'nothing indexed and no reindex: INDEX_EMPTY',
      );
      const run = service.reindex();
      // The first catalog image is held at the embedder: nothing can have been committed.
      await gated.firstHeld;
      assert.equal(catalog.size(), 0);
      await assert.rejects(service.findSimilar(query, { userId: 'first' }), (err: unknown) => {
        assert.ok(err instanceof LookalikeError);
        assert.equal(err.code, 'INDEX_BUILDING');
        assert.match(err.userMessage, /being indexed/);
        assert.match(err.userMessage, /0 of 16 items/);
        assert.doesNotMatch(err.userMessage, /admin|\/reindex|empty/i);
        return true;
      });
      gated.openAll();
      const summary = await run;
      assert.equal(summary.added, 16);
      const answer = await service.findSimilar(query, { userId: 'then' });
      assert.equal(answer.results.length, 6);
    } finally {
      gated.openAll();
      await service.close();
      await catalog.close();
    }
  });

  it('GIVEN close() during a reindex THEN the run stops at its next commit, what was committed stays, and the saved index matches it', async () => {
    const cat = await makeTestCatalog(join(ROOT, 'closing'), { count: 40, width: 160 });
    const dataDir = join(ROOT, 'data-closing');
    const pausing = pausingEmbedder(real, 2 * BATCH);
    const catalog = await openCatalog({
      dataDir,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      embedder: pausing.embedder,
      batchSize: BATCH,
    });
    const run = catalog.reindex();
    const outcome = run.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await pausing.paused;
    const closed = catalog.close();
    pausing.resume();
    await closed;
    const err = await outcome;
    assert.ok(err instanceof LookalikeError, `the run rejects (got ${String(err)})`);
    assert.match(err.message, /closed during reindex/);
    const sidecar = JSON.parse(await readFile(join(dataDir, 'index.json'), 'utf8')) as { count: number };
    assert.ok(sidecar.count >= 2 * BATCH && sidecar.count < 40, `saved with ${sidecar.count} items`);
    const reopened = await openCatalog({ dataDir, embedder: real, batchSize: BATCH });
    try {
      assert.equal(reopened.size(), sidecar.count, 'what was committed is searchable after reopening');
      const s = await reopened.reindex();
      assert.equal(s.added, 40 - sidecar.count, 'the next run embeds only the rest');
      assert.equal(reopened.size(), 40);
    } finally {
      await reopened.close();
    }
  });

  it('GIVEN an HNSW catalog with removals THEN answers leave the removed ids out with k results, then it compacts in the background', async () => {
    const cat = await makeTestCatalog(join(ROOT, 'hnsw'), { count: 40, width: 160 });
    const catalog = await openCatalog({
      dataDir: join(ROOT, 'data-hnsw'),
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      embedder: real,
      batchSize: BATCH,
      index: { kind: 'hnsw' },
    });
    const service = serviceOver(real, catalog);
    try {
      await service.reindex();
      assert.equal(catalog.size(), 40);
      const kept = cat.items[0]!;
      const query = await readFile(join(cat.imagesDir, kept.file));
      const removedIds = new Set<string>();
      const remove = async (n: number) => {
        const byDistance = catalog.search(catalog.vectorOf(kept.id)!, { k: 40, excludeDuplicates: true });
        // Remove the nearest neighbours of the query: they would be in its answer.
        for (const r of byDistance.filter((x) => !removedIds.has(x.id)).slice(0, n)) {
          await unlink(r.path);
          removedIds.add(r.id);
        }
        const s = await service.reindex();
        assert.equal(s.removed, n);
      };
      const check = async () => {
        const answer = await service.findSimilar(query, { userId: `hnsw-${removedIds.size}`, k: 6 });
        assert.equal(answer.results.length, 6, 'k results despite the removals');
        for (const r of answer.results) assert.ok(!removedIds.has(r.id), `removed ${r.id} came back`);
        const deep = catalog.search(catalog.vectorOf(kept.id)!, { k: 40, excludeDuplicates: false });
        assert.equal(deep.length, 40 - removedIds.size);
        assert.ok(!deep.some((r) => removedIds.has(r.id)));
      };

      // 2 of 40 (5 %): tombstones stay, filtered out of results.
      await remove(2);
      assert.equal(catalog.info().indexStats.tombstones, 2);
      assert.equal(catalog.info().indexStats.compactions, 0);
      await check();

      // 4 more (15 % of the stored vectors): a compaction starts in the background.
      await remove(4);
      await check();
      await catalog.whenIdle();
      const stats = catalog.info().indexStats;
      assert.equal(stats.tombstones, 0, 'compacted');
      assert.ok(stats.compactions >= 1);
      assert.equal(stats.live, 34);
      assert.equal(stats.stored, 34);
      await check();
    } finally {
      await service.close();
      await catalog.close();
    }
    const reopened = await openCatalog({ dataDir: join(ROOT, 'data-hnsw'), embedder: real, batchSize: BATCH });
    try {
      assert.equal(reopened.info().indexKind, 'hnsw');
      assert.equal(reopened.size(), 34);
    } finally {
      await reopened.close();
    }
  });
});
