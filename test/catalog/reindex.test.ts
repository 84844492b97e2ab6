/**
 * The catalog and its incremental reindex, end to end: real SQLite, real FAISS, real ONNX
 * Runtime (untrained weights), real sharp-drawn images.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Catalog, openCatalog } from '@lookalike/catalog';
import { type Logger, LookalikeError, type ReindexProgress } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import Database from 'better-sqlite3';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type CountingEmbedder, countingEmbedder } from './embedders.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-reindex-${process.pid}`);
const COUNT = 32; // 4 of each of the 8 article types

let real: ImageEmbedder;
let emb: CountingEmbedder;
let cat: TestCatalog;
let dataDir: string;

async function open(extra: Partial<Parameters<typeof openCatalog>[0]> = {}): Promise<Catalog> {
  return openCatalog({
    dataDir,
    imagesDir: cat.imagesDir,
    labelsPath: cat.labelsPath,
    embedder: emb,
    batchSize: 4,
    ...extra,
  });
}

function sqDist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

function fileOf(id: string): string {
  const item = cat.items.find((i) => i.id === id);
  assert.ok(item, `no item ${id}`);
  return join(cat.imagesDir, item.file);
}

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  real = await createEmbedder({ modelsDir, batchSize: 4 });
  emb = countingEmbedder(real);
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
  dataDir = join(ROOT, 'data');
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

describe('catalog reindex', () => {
  let catalog: Catalog;

  it('GIVEN a new catalog THEN the first reindex embeds every image, one per batch call, with progress events', async () => {
    catalog = await open();
    assert.equal(catalog.size(), 0);
    const events: ReindexProgress[] = [];
    const run = catalog.reindex((p) => {
      events.push(p);
      assert.equal(p.searchable, catalog.size(), 'searchable is the size at that moment');
    });
    const first = catalog.reindexProgress();
    assert.equal(first?.phase, 'scanning', 'progress is there from the moment reindex() is called');
    assert.equal(first?.searchable, 0);
    assert.equal(first?.expected, null, 'not known while scanning');
    const s = await run;
    assert.equal(s.added, COUNT);
    assert.equal(s.embedded, COUNT);
    assert.equal(emb.embedded, COUNT);
    assert.equal(emb.calls, COUNT, 'one embed call per image');
    assert.equal(emb.maxPerCall, 1);
    assert.deepEqual([...emb.priorities], ['batch']);
    assert.deepEqual([s.updated, s.removed, s.unchanged, s.failed], [0, 0, 0, 0]);
    assert.equal(catalog.size(), COUNT);
    const phases = [...new Set(events.map((e) => e.phase))];
    // No whole-index rebuild or blocking save phase at the end: the index grew batch by batch.
    assert.deepEqual(phases, ['scanning', 'hashing', 'removing', 'embedding', 'done']);
    const last = events.at(-1)!;
    assert.equal(last.phase, 'done');
    assert.equal(last.searchable, COUNT);
    assert.equal(last.expected, COUNT);
    const emb1 = events.filter((e) => e.phase === 'embedding');
    assert.equal(emb1.at(-1)?.done, COUNT);
    assert.equal(emb1.at(-1)?.total, COUNT);
    for (const e of emb1) {
      assert.equal(e.expected, COUNT);
      assert.equal(e.searchable, e.done, 'each committed batch is searchable at once');
    }
    for (const e of events) {
      assert.ok(e.done <= e.total || e.phase === 'scanning');
      assert.ok(e.rate >= 0);
      assert.equal(e.startedAt, events[0]!.startedAt);
    }
    assert.equal(catalog.reindexProgress(), null);
    await catalog.whenIdle();
    assert.ok(existsSync(join(dataDir, 'index.faiss')), 'saved in the background');
    assert.equal(JSON.parse(await readFile(join(dataDir, 'index.json'), 'utf8')).count, COUNT);
  });

  it('GIVEN nothing changed THEN a second reindex embeds nothing', async () => {
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(emb.embedded, 0);
    assert.equal(emb.calls, 0);
    assert.deepEqual([s.added, s.updated, s.removed, s.unchanged, s.failed], [0, 0, 0, COUNT, 0]);
  });

  it('GIVEN a reopened catalog THEN the saved index is loaded and search works without embedding', async () => {
    await catalog.close();
    emb.reset();
    catalog = await open();
    assert.equal(catalog.size(), COUNT);
    const v = catalog.vectorOf('10003')!;
    const r = catalog.search(v, { k: 6 });
    assert.equal(r.length, 6);
    assert.equal(emb.embedded, 0);
    r.forEach((x, i) => {
      assert.equal(x.rank, i + 1);
      assert.ok(Math.abs(x.similarity - (1 - x.distance / 2)) < 1e-12);
      assert.ok(x.path.startsWith(cat.imagesDir));
      assert.ok(x.metadata.articleType);
    });
    for (let i = 1; i < r.length; i++) assert.ok(r[i]!.distance >= r[i - 1]!.distance);
  });

  it('GIVEN a query identical to an item THEN it is left out by default and the next item takes its place', async () => {
    const v = catalog.vectorOf('10003')!;
    const withDup = catalog.search(v, { k: 6, excludeDuplicates: false });
    assert.equal(withDup[0]?.id, '10003');
    assert.ok(withDup[0]!.distance < 1e-6);
    const r = catalog.search(v, { k: 6 });
    assert.ok(!r.some((x) => x.id === '10003'));
    assert.deepEqual(
      r.map((x) => x.id),
      withDup
        .slice(1)
        .map((x) => x.id)
        .concat(r.at(-1)!.id),
    );
    assert.equal(r.length, 6);
  });

  it('GIVEN filters THEN only matching items come back, searching deep enough for k of them (case-insensitive)', async () => {
    const tee = cat.items.find((i) => i.articleType === 'Tshirts')!;
    const v = catalog.vectorOf(tee.id)!;
    const caps = cat.items.filter((i) => i.articleType === 'Caps');
    const r = catalog.search(v, { k: caps.length, filters: { articletype: 'caps' } });
    assert.equal(r.length, caps.length);
    assert.deepEqual(new Set(r.map((x) => x.id)), new Set(caps.map((c) => c.id)));
    assert.ok(r.every((x) => x.metadata.articleType === 'Caps'));
    // More asked than exist: all that match, no more.
    assert.equal(catalog.search(v, { k: 10, filters: { articleType: 'Caps' } }).length, caps.length);
    // Two filters.
    const g = caps[0]!.gender;
    const both = catalog.search(v, { k: 10, filters: { articleType: 'Caps', gender: g } });
    assert.equal(both.length, caps.filter((c) => c.gender === g).length);
    assert.equal(catalog.search(v, { k: 3, filters: { articleType: 'Spaceships' } }).length, 0);
  });

  it('GIVEN labels THEN facet lists distinct values, most common first', () => {
    const types = catalog.facet('articleType');
    assert.equal(types.length, 8);
    const colours = catalog.facet('baseColour');
    const counts = new Map<string, number>();
    for (const i of cat.items) counts.set(i.baseColour, (counts.get(i.baseColour) ?? 0) + 1);
    assert.equal(colours.length, counts.size);
    for (let i = 1; i < colours.length; i++) assert.ok(counts.get(colours[i - 1]!)! >= counts.get(colours[i]!)!);
    assert.deepEqual(catalog.facet('noSuchField'), []);
  });

  it('GIVEN one file deleted, one added and one modified THEN only those items change', async () => {
    const before = new Map(catalog.items().map((i) => [i.id, catalog.vectorOf(i.id)!]));
    await unlink(fileOf('10001'));
    await copyFile(fileOf('10002'), join(cat.imagesDir, 'new-item.jpg'));
    // Modify 10004 (a skirt) with the pixels of 10006 (a handbag): different content.
    await copyFile(fileOf('10006'), fileOf('10004'));
    emb.reset();
    const s = await catalog.reindex();
    assert.deepEqual([s.added, s.updated, s.removed, s.failed], [1, 1, 1, 0]);
    assert.equal(s.unchanged, COUNT - 2);
    assert.equal(emb.embedded, 2);
    assert.equal(catalog.size(), COUNT);
    assert.equal(catalog.vectorOf('10001'), undefined);
    const v = catalog.vectorOf('10002')!;
    assert.ok(!catalog.search(v, { k: COUNT, excludeDuplicates: false }).some((x) => x.id === '10001'));
    // The copy is an exact duplicate of 10002: both are excluded by default.
    const ids = catalog.search(v, { k: 3 }).map((x) => x.id);
    assert.ok(!ids.includes('new-item') && !ids.includes('10002'));
    assert.deepEqual(
      catalog
        .search(v, { k: 2, excludeDuplicates: false })
        .map((x) => x.id)
        .sort(),
      ['10002', 'new-item'],
    );
    assert.ok(
      sqDist(catalog.vectorOf('10004')!, catalog.vectorOf('10006')!) < 1e-6,
      '10004 now holds the pixels of 10006',
    );
    for (const [id, vec] of before) {
      if (id === '10001' || id === '10004') continue;
      assert.deepEqual(catalog.vectorOf(id), vec, `vector of ${id} unchanged`);
    }
  });

  it('GIVEN only the mtime changed THEN nothing is re-embedded', async () => {
    const t = new Date(Date.now() + 60_000);
    await utimes(fileOf('10005'), t, t);
    await utimes(fileOf('10007'), t, t);
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(emb.embedded, 0);
    assert.deepEqual([s.added, s.updated, s.removed], [0, 0, 0]);
    emb.reset();
    await catalog.reindex();
    assert.equal(emb.embedded, 0, 'the new mtime was recorded');
  });

  it('GIVEN changed labels THEN metadata updates without re-embedding', async () => {
    const text = await readFile(cat.labelsPath, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('10008,'))!;
    const fields = line.split(',');
    fields[5] = 'Teal';
    await writeFile(cat.labelsPath, text.replace(line, fields.join(',')));
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(emb.embedded, 0);
    assert.equal(s.relabelled, 1);
    const hit = catalog.search(catalog.vectorOf('10008')!, { k: 1, excludeDuplicates: false })[0]!;
    assert.equal(hit.id, '10008');
    assert.equal(hit.metadata.baseColour, 'Teal');
    assert.equal(catalog.search(catalog.vectorOf('10009')!, { k: 5, filters: { baseColour: 'teal' } })[0]?.id, '10008');
  });

  it('GIVEN two files with the same name in different folders THEN both get distinct ids', async () => {
    await mkdir(join(cat.imagesDir, 'sub'), { recursive: true });
    await copyFile(fileOf('10010'), join(cat.imagesDir, 'sub', '10000.JPG'));
    emb.reset();
    const s = await catalog.reindex();
    assert.deepEqual(s.collisions, ['10000']);
    assert.equal(s.added, 1);
    assert.equal(emb.embedded, 1, 'the existing 10000 item is renamed, not re-embedded');
    const ids = new Set(catalog.items().map((i) => i.id));
    assert.ok(ids.has('10000') && ids.has('sub/10000'));
    const sub = catalog.items().find((i) => i.id === 'sub/10000')!;
    assert.deepEqual(
      sub.metadata,
      catalog.items().find((i) => i.id === '10000')!.metadata,
      'labels found by file stem',
    );
    assert.ok(sub.path.endsWith('sub/10000.JPG'));
  });

  it('GIVEN bad files THEN they are skipped, reported, and not retried until they change', async () => {
    await writeFile(join(cat.imagesDir, 'empty.jpg'), '');
    await writeFile(join(cat.imagesDir, 'notes.png'), 'this is not a png at all\n');
    const jpeg = await readFile(fileOf('10011'));
    await writeFile(join(cat.imagesDir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await writeFile(join(cat.imagesDir, 'readme.txt'), 'ignored: not an image extension');
    const sizeBefore = catalog.size();
    emb.reset();
    const s = await catalog.reindex();
    assert.equal(s.failed, 3);
    assert.deepEqual([...s.failedFiles].sort(), ['empty.jpg', 'notes.png', 'truncated.jpg']);
    assert.equal(s.added, 0);
    assert.equal(catalog.size(), sizeBefore);
    emb.reset();
    const s2 = await catalog.reindex();
    assert.equal(s2.failed, 3, 'still reported');
    assert.equal(emb.calls, 0, 'not sent to the embedder again');
    // Fix one: it is picked up.
    await copyFile(fileOf('10012'), join(cat.imagesDir, 'truncated.jpg'));
    emb.reset();
    const s3 = await catalog.reindex();
    assert.equal(s3.added, 1);
    assert.equal(s3.failed, 2);
    assert.equal(emb.embedded, 1);
  });

  it('GIVEN a running reindex THEN a second one is refused with REINDEX_IN_PROGRESS and each batch is searchable once committed', async () => {
    const sizeBefore = catalog.size();
    const probe = catalog.vectorOf('10013')!;
    const resultsBefore = catalog.search(probe, { k: 5 }).map((r) => r.id);
    const twins = ['10013', '10014', '10017', '10018', '10019', '10020', '10021', '10022'];
    for (const id of twins) await copyFile(fileOf(id), join(cat.imagesDir, `twin-of-${id}.jpg`));
    let second: unknown;
    const during: { done: number; size: number; searchable: number; expected: number | null }[] = [];
    const p = catalog.reindex((ev) => {
      if (ev.phase !== 'embedding') return;
      during.push({ done: ev.done, size: catalog.size(), searchable: ev.searchable, expected: ev.expected });
      if (second === undefined) {
        catalog.reindex().catch((err: unknown) => {
          second = err;
        });
      }
    });
    const s = await p;
    assert.equal(s.added, twins.length);
    assert.ok(during.length > 0, 'progress events arrived while embedding');
    for (const d of during) {
      assert.equal(d.size, sizeBefore + d.done, 'committed items are in the live index at once');
      assert.equal(d.searchable, d.size);
      assert.equal(d.expected, sizeBefore + twins.length);
    }
    assert.ok(second instanceof LookalikeError);
    assert.equal(second.code, 'REINDEX_IN_PROGRESS');
    assert.equal((second.details.progress as ReindexProgress).phase, 'embedding');
    assert.equal(catalog.size(), sizeBefore + twins.length);
    assert.ok(catalog.search(probe, { k: 2, excludeDuplicates: false }).some((r) => r.id === 'twin-of-10013'));
    const after = catalog.search(probe, { k: 5 }).map((r) => r.id);
    assert.ok(!after.includes('twin-of-10013') && !after.includes('10013'), 'exact twins of the query are excluded');
    const others = after.filter((id) => !id.startsWith('twin-of-'));
    assert.deepEqual(others, resultsBefore.slice(0, others.length));
  });

  it('GIVEN a corrupt or missing index file THEN opening rebuilds it from the stored vectors', async () => {
    const size = catalog.size();
    const probe = catalog.vectorOf('10015')!;
    const expected = catalog.search(probe, { k: 6 }).map((r) => r.id);
    await catalog.close();
    await truncate(join(dataDir, 'index.faiss'), 100);
    emb.reset();
    catalog = await open();
    assert.equal(catalog.size(), size);
    assert.deepEqual(
      catalog.search(probe, { k: 6 }).map((r) => r.id),
      expected,
    );
    assert.equal(emb.embedded, 0);
    await catalog.close();
    await rm(join(dataDir, 'index.json'));
    catalog = await open();
    assert.deepEqual(
      catalog.search(probe, { k: 6 }).map((r) => r.id),
      expected,
    );
    const db = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('GIVEN an HNSW index is asked for THEN it is built from the stored vectors and kept on reopen', async () => {
    const probe = catalog.vectorOf('10016')!;
    const exact = catalog.search(probe, { k: 6 }).map((r) => r.id);
    await catalog.close();
    emb.reset();
    catalog = await open({ index: { kind: 'hnsw', efSearch: 64 } });
    assert.equal(catalog.info().indexKind, 'hnsw');
    assert.equal(emb.embedded, 0);
    assert.deepEqual(
      catalog.search(probe, { k: 6 }).map((r) => r.id),
      exact,
      'tiny catalog: HNSW finds the exact neighbours',
    );
    await catalog.close();
    catalog = await open();
    assert.equal(catalog.info().indexKind, 'hnsw', 'the saved kind is the default');
    await catalog.close();
    catalog = await open({ index: { kind: 'flat' } });
    assert.equal(catalog.info().indexKind, 'flat');
  });

  it('GIVEN other weights THEN opening fails with INDEX_MODEL_MISMATCH, unless allowed, and reindex re-embeds all', async () => {
    await catalog.close();
    const other = countingEmbedder(real, { source: 'file', md5: '0123456789abcdef0123456789abcdef' });
    await assert.rejects(
      openCatalog({ dataDir, imagesDir: cat.imagesDir, embedder: other }),
      (err: unknown) =>
        err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH' && /lookalike index/.test(err.message),
    );
    const c2 = await openCatalog({
      dataDir,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      embedder: other,
      allowModelMismatch: true,
      batchSize: 8,
    });
    assert.equal(c2.info().modelMismatch, true);
    // The stored vectors are kept (model-change.test.ts); a query of the stored weights is refused.
    assert.throws(
      () => c2.search(new Float32Array(2048), { k: 1, weightsMd5: real.weights.md5 }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
    );
    const n = c2.info().size;
    const s = await c2.reindex();
    assert.equal(other.embedded, s.added);
    assert.ok(s.added >= COUNT);
    assert.equal(c2.size(), s.added);
    assert.equal(c2.info().storedWeights?.md5, '0123456789abcdef0123456789abcdef');
    assert.equal(n, 0);
    await c2.close();
    // And now the original weights are the mismatch.
    await assert.rejects(
      open(),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
    );
  });
});

describe('catalog index file', () => {
  it('GIVEN the index file cannot be written THEN the reindex still succeeds, the failure is logged, and the next open rebuilds', async () => {
    const small = await makeTestCatalog(join(ROOT, 'small'), { count: 8, width: 160 });
    const dir = join(ROOT, 'data-unwritable');
    // A non-empty folder where the index file goes: the atomic rename over it fails.
    await mkdir(join(dir, 'index.faiss', 'blocker'), { recursive: true });
    const errors: string[] = [];
    const logger = capturingLogger(errors);
    const c = await openCatalog({
      dataDir: dir,
      imagesDir: small.imagesDir,
      labelsPath: small.labelsPath,
      embedder: emb,
      batchSize: 4,
      logger,
    });
    const s = await c.reindex();
    assert.equal(s.added, 8);
    assert.equal(c.size(), 8, 'searchable although the save failed');
    await c.whenIdle();
    assert.ok(
      errors.some((m) => /index save failed/.test(m)),
      `logged: ${errors.join('; ')}`,
    );
    assert.ok(!existsSync(join(dir, 'index.json')), 'no sidecar for a file that was not written');
    await c.close();
    await rm(join(dir, 'index.faiss'), { recursive: true });
    emb.reset();
    const reopened = await openCatalog({ dataDir: dir, embedder: emb, batchSize: 4 });
    assert.equal(reopened.size(), 8, 'rebuilt from the stored vectors');
    assert.equal(emb.embedded, 0);
    await reopened.close();
  });
});

function capturingLogger(errors: string[]): Logger {
  const logger: Logger = {
    child: () => logger,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (_obj: unknown, msg?: string) => {
      errors.push(msg ?? '');
    },
    fatal: () => {},
  };
  return logger;
}
