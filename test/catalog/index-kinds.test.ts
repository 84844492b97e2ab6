/**
 * The catalog's index kinds and filtered search, end to end (real SQLite, FAISS, ONNX Runtime with
 * untrained weights, sharp-drawn images): a flat-sq8 catalog indexes, saves and reloads its 8-bit
 * index and answers flat's top-6 with flat's distances (re-ranked with the database's fp32
 * vectors); switching LOOKALIKE_INDEX rebuilds the saved index; a model change re-ranks with the
 * shadow's vectors, then with the swapped-in catalog's; filtered searches (metadata filters,
 * excluded ids, out-of-stock items) give exactly the brute-force top-k of the allowed items with
 * every kind.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Catalog, type CatalogOptions, formatCsvRow, openCatalog } from '@lookalike/catalog';
import type { Logger, SearchOptions, SimilarItem } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import type { IndexKind } from '@lookalike/index';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { otherModel } from './other-model.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-index-kinds-${process.pid}`);
const COUNT = 40; // 5 of each of the 8 article types
const K = 6;

let real: ImageEmbedder;
let cat: TestCatalog;
let labelsPath: string;
let dataDir: string;
/** Every item's stored vector and labels (read back from the catalog after the first reindex). */
let items: { id: string; vector: Float32Array; articleType: string; outOfStock: boolean }[] = [];
let queries: Float32Array[] = [];

function open(kind: IndexKind | undefined, logger?: Logger, extra: Partial<CatalogOptions> = {}): Promise<Catalog> {
  return openCatalog({
    dataDir,
    imagesDir: cat.imagesDir,
    labelsPath,
    embedder: real,
    batchSize: 8,
    ...(kind === undefined ? {} : { index: { kind } }),
    ...(logger === undefined ? {} : { logger }),
    ...extra,
  });
}

function sqDist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The brute-force top-k over `allowed` (exact duplicates of the query left out), nearest first. */
function bruteForce(query: Float32Array, allowed: typeof items, k: number): { id: string; distance: number }[] {
  return allowed
    .map((it) => ({ id: it.id, distance: sqDist(query, it.vector) }))
    .filter((x) => x.distance >= 1e-6)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k);
}

/** The same ids in the same order, and each distance within float rounding of the exact one. */
function assertSameHits(got: SimilarItem[], want: { id: string; distance: number }[], what: string): void {
  assert.deepEqual(
    got.map((h) => h.id),
    want.map((h) => h.id),
    what,
  );
  got.forEach((h, i) => {
    const d = want[i]!.distance;
    assert.ok(Math.abs(h.distance - d) <= 1e-5 * Math.max(1, d), `${what}: distance ${h.distance} vs exact ${d}`);
  });
}

/** The kind recorded in the saved index file's header and in its sidecar. */
async function savedKinds(): Promise<{ file: unknown; sidecar: unknown }> {
  const bytes = await readFile(join(dataDir, 'index.faiss'));
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'LKLIDX01');
  const header = JSON.parse(bytes.subarray(12, 12 + bytes.readUInt32LE(8)).toString('utf8')) as { kind: unknown };
  const sidecar = JSON.parse(await readFile(join(dataDir, 'index.json'), 'utf8')) as { kind: unknown };
  return { file: header.kind, sidecar: sidecar.kind };
}

const rebuilt = (log: ReturnType<typeof recordingLogger>) => log.entries.filter((e) => e.msg === 'index rebuilt');

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir, batchSize: 8 });
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
  // The demo labels plus an availability column: every 5th item is out of stock.
  labelsPath = join(ROOT, 'labels.csv');
  const rows = [formatCsvRow(['id', 'articleType', 'baseColour', 'availability'])];
  for (const [i, it] of cat.items.entries()) {
    rows.push(formatCsvRow([it.id, it.articleType, it.baseColour, i % 5 === 2 ? 'out of stock' : 'in stock']));
  }
  await writeFile(labelsPath, `${rows.join('\n')}\n`);
  dataDir = join(ROOT, 'data');
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

describe('catalog index kinds', () => {
  /** flat-sq8's answers to `queries` (including out-of-stock items), compared with flat's below. */
  let sq8: SimilarItem[][] = [];
  const everything: Omit<SearchOptions, 'k'> = { includeOutOfStock: true };

  it('GIVEN LOOKALIKE_INDEX=flat-sq8 for a new catalog THEN it indexes, saves an sq8 index and answers the exact top-6', async () => {
    const log = recordingLogger();
    const catalog = await open('flat-sq8', log);
    try {
      assert.equal((await catalog.reindex()).added, COUNT);
      await catalog.whenIdle();
      assert.equal(catalog.info().indexKind, 'flat-sq8');
      assert.deepEqual(await savedKinds(), { file: 'flat-sq8', sidecar: 'flat-sq8' });
      const labels = new Map(catalog.items().map((it) => [it.id, it.metadata]));
      items = cat.items.map((it) => {
        const vector = catalog.vectorOf(it.id);
        assert.ok(vector, it.id);
        const m = labels.get(it.id)!;
        return { id: it.id, vector, articleType: m.articleType!, outOfStock: m.availability === 'out of stock' };
      });
      assert.equal(items.filter((it) => it.outOfStock).length, COUNT / 5);
      // Catalog items themselves (their duplicate is left out) and uneven blends of two (no
      // duplicate; an even blend would tie its two sources).
      queries = [0, 7, 13, 22, 31, 39].map((i) => items[i]!.vector);
      for (const [a, b] of [
        [1, 2],
        [5, 17],
        [9, 30],
        [20, 21],
      ] as const) {
        queries.push(unit(items[a]!.vector.map((x, j) => 0.7 * x + 0.3 * items[b]!.vector[j]!)));
      }
      sq8 = queries.map((q) => catalog.search(q, { k: K, ...everything }));
      for (const [i, hits] of sq8.entries()) assertSameHits(hits, bruteForce(queries[i]!, items, K), `query ${i}`);
    } finally {
      await catalog.close();
    }
  });

  it('GIVEN the saved flat-sq8 index THEN a reopen (kind from the catalog) loads it without a rebuild and answers the same', async () => {
    const log = recordingLogger();
    const catalog = await open(undefined, log);
    try {
      assert.equal(catalog.info().indexKind, 'flat-sq8');
      assert.deepEqual(rebuilt(log), [], 'loaded, not rebuilt');
      assert.ok(log.entries.some((e) => e.msg === 'index loaded' && e.bindings.component === 'catalog'));
      for (const [i, q] of queries.entries()) {
        assert.deepEqual(catalog.search(q, { k: K, ...everything }), sq8[i], `query ${i}`);
      }
    } finally {
      await catalog.close();
    }
  });

  it('GIVEN LOOKALIKE_INDEX switched to flat, then back to flat-sq8 THEN each switch rebuilds, and flat answers flat-sq8’s top-6', async () => {
    for (const kind of ['flat', 'flat-sq8'] as const) {
      const log = recordingLogger();
      const catalog = await open(kind, log);
      try {
        assert.equal(rebuilt(log).length, 1, `${kind}: rebuilt from the stored vectors`);
        assert.equal(rebuilt(log)[0]!.obj.kind, kind);
        await catalog.whenIdle();
        assert.deepEqual(await savedKinds(), { file: kind, sidecar: kind });
        assert.equal(catalog.info().indexKind, kind);
        queries.forEach((q, i) => {
          const hits = catalog.search(q, { k: K, ...everything });
          assert.deepEqual(
            hits.map((h) => h.id),
            sq8[i]!.map((h) => h.id),
            `${kind}: query ${i}`,
          );
          assertSameHits(hits, bruteForce(q, items, K), `${kind}: query ${i}`);
        });
      } finally {
        await catalog.close();
      }
    }
  });

  for (const kind of ['flat', 'flat-sq8', 'hnsw'] as const) {
    it(`GIVEN filters, excluded ids and out-of-stock items (${kind}) THEN exactly the brute-force top-k of the allowed items`, async () => {
      const catalog = await open(kind);
      try {
        const types = [...new Set(items.map((it) => it.articleType))];
        assert.equal(types.length, 8);
        for (const [qi, q] of queries.entries()) {
          const nearest = bruteForce(q, items, 12).map((h) => h.id);
          const exclude = [nearest[0]!, nearest[3]!, nearest[7]!];
          const cases: { what: string; options: SearchOptions; allow: (it: (typeof items)[number]) => boolean }[] = [
            { what: 'in stock only (the default)', options: { k: K }, allow: (it) => !it.outOfStock },
            { what: 'everything', options: { k: K, includeOutOfStock: true }, allow: () => true },
            { what: 'exclude', options: { k: K, exclude }, allow: (it) => !it.outOfStock && !exclude.includes(it.id) },
            ...types.slice(0, 3).map((t) => ({
              what: `--where articleType=${t}`,
              // Field names and values are matched case-insensitively.
              options: { k: K, filters: { articletype: t.toUpperCase() } },
              allow: (it: (typeof items)[number]) => !it.outOfStock && it.articleType === t,
            })),
            {
              what: `--where articleType=${types[4]} with exclude and out-of-stock items`,
              options: { k: K, filters: { articleType: types[4]! }, exclude, includeOutOfStock: true },
              allow: (it) => it.articleType === types[4] && !exclude.includes(it.id),
            },
            {
              what: 'k beyond the allowed set',
              options: { k: 30, filters: { articleType: types[5]! } },
              allow: (it) => !it.outOfStock && it.articleType === types[5],
            },
            { what: 'no match', options: { k: K, filters: { articleType: 'Spacesuits' } }, allow: () => false },
          ];
          for (const c of cases) {
            const got = catalog.search(q, c.options);
            const want = bruteForce(q, items.filter(c.allow), c.options.k);
            assertSameHits(got, want, `${kind}, query ${qi}, ${c.what}`);
            assert.deepEqual(
              got.map((h) => h.rank),
              got.map((_, i) => i + 1),
            );
          }
        }
      } finally {
        await catalog.close();
      }
    });
  }

  it('GIVEN a flat-sq8 catalog and a model change THEN the shadow re-ranks with its own vectors, and so does the swapped-in catalog', async () => {
    const other = otherModel(real);
    // The other model's vectors: the same components in reverse order.
    const reversed = items.map((it) => ({ ...it, vector: it.vector.slice().reverse() }));
    const catalog = await openCatalog({
      dataDir,
      imagesDir: cat.imagesDir,
      labelsPath,
      embedder: other,
      batchSize: 8,
      index: { kind: 'flat-sq8' },
      allowModelMismatch: true,
    });
    try {
      const q = reversed[11]!.vector;
      let during: SimilarItem[] | undefined;
      const summary = await catalog.reindex((p) => {
        // Answers from the shadow mid-run: exact distances among what it holds so far.
        if (during === undefined && p.searchable >= 16 && p.searchable < COUNT) {
          during = catalog.search(q, { k: K, ...everything });
        }
      });
      assert.equal(summary.added + summary.updated, COUNT);
      assert.ok(during !== undefined && during.length === K, 'searched the shadow mid-run');
      for (const h of during) {
        const v = reversed.find((it) => it.id === h.id)!.vector;
        assert.ok(Math.abs(h.distance - sqDist(q, v)) <= 1e-5, `shadow: exact distance of ${h.id}`);
      }
      assert.equal(catalog.migration(), null, 'the change completed');
      assertSameHits(catalog.search(q, { k: K, ...everything }), bruteForce(q, reversed, K), 'after the swap');
      await catalog.whenIdle();
      assert.deepEqual(await savedKinds(), { file: 'flat-sq8', sidecar: 'flat-sq8' });
    } finally {
      await catalog.close();
    }
  });
});
