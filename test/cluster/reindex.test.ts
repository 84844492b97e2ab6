/**
 * Planning a PostgreSQL-backed reindex (pure) and the in-process reindexer (`DATABASE_URL`
 * alone) end to end: a real private PostgreSQL, the real ONNX embedder (untrained weights),
 * real sharp-drawn images.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Labels, ScannedFile } from '@lookalike/catalog';
import { createLocalReindexer, modelKey, planCatalog, type Reindexer, resolveHashed } from '@lookalike/cluster';
import type { ReindexProgress } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import type { ItemFailure, ListedItem, PgCatalog } from '@lookalike/pg';
import { type CountingEmbedder, countingEmbedder } from '../catalog/embedders.ts';
import { rejectsWith } from '../helpers/assert.ts';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { steppedEmbedder } from '../helpers/gate.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { type PgServer, startPostgres } from '../helpers/pg-server.ts';
import { freshCatalog, maxAbsDiff, storedVectors } from './fixtures/reindex-support.ts';

const ROOT = join(TEST_TMP_DIR, `cluster-reindex-${process.pid}`);
const COUNT = 16;
const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function file(relPath: string, size = 100, mtimeMs = 1000): ScannedFile {
  const name = relPath.split('/').pop()!;
  const stem = name.replace(/\.[^.]+$/, '');
  return { id: stem, stem, relPath, absPath: `/x/${relPath}`, size, mtimeMs };
}

function listed(sourceKey: string, extra: Partial<ListedItem> = {}, stat = { size: 100, mtimeMs: 1000 }): ListedItem {
  const stem = sourceKey.replace(/\.[^.]+$/, '');
  return { sourceKey, contentHash: H1, metadata: { id: stem, labels: {}, file: stat }, embedded: true, ...extra };
}

function failure(sourceKey: string, code: string, contentHash = H1): ItemFailure {
  return { sourceKey, contentHash, code, message: 'bad', attempts: 1 };
}

describe('planCatalog (pure)', () => {
  it('GIVEN new, unchanged, touched, relabelled, re-embedded and removed files THEN each is classified', () => {
    const labels: Labels = {
      byId: new Map([['relabel', { articleType: 'Shirts' }]]),
      columns: ['id', 'articleType'],
      repairedRows: 0,
    };
    const plan = planCatalog({
      files: [file('new.jpg'), file('same.jpg'), file('touched.jpg', 100, 2000), file('relabel.jpg'), file('m.jpg')],
      listed: [
        listed('same.jpg'),
        listed('touched.jpg'),
        listed('relabel.jpg'),
        listed('m.jpg', { embedded: false }),
        listed('gone.jpg'),
      ],
      failures: [],
      labels,
    });
    assert.equal(plan.unchanged, 2, 'same + relabel (their content is not re-read)');
    assert.deepEqual(
      plan.relabel.map((r) => [r.sourceKey, r.expectedHash, (r.metadata as { labels: unknown }).labels]),
      [['relabel.jpg', H1, { articleType: 'Shirts' }]],
    );
    assert.deepEqual(
      plan.toHash.map((h) => h.file.relPath),
      ['touched.jpg'],
    );
    assert.deepEqual(
      plan.toEmbed.map((t) => [t.sourceKey, t.kind, t.expectedHash, t.contentHash]),
      [
        ['new.jpg', 'added', null, undefined],
        ['m.jpg', 'reembedded', H1, H1],
      ],
    );
    assert.deepEqual(plan.removals, ['gone.jpg']);
    assert.deepEqual(plan.toEmbed[0]?.metadata, { id: 'new', labels: {}, file: { size: 100, mtimeMs: 1000 } });
  });

  it('GIVEN jsonb key order and the same labels THEN nothing is relabelled', () => {
    const labels: Labels = {
      byId: new Map([['a', { gender: 'Men', articleType: 'Shirts' }]]),
      columns: [],
      repairedRows: 0,
    };
    const stored = { file: { mtimeMs: 1000, size: 100 }, labels: { articleType: 'Shirts', gender: 'Men' }, id: 'a' };
    const plan = planCatalog({
      files: [file('a.jpg')],
      listed: [listed('a.jpg', { metadata: stored })],
      failures: [],
      labels,
    });
    assert.equal(plan.unchanged, 1);
    assert.deepEqual(plan.relabel, []);
  });

  it('GIVEN recorded failures THEN content failures are hashed to be recognised, others are retried', () => {
    const plan = planCatalog({
      files: [file('broken.jpg'), file('mismatch.jpg'), file('m.jpg')],
      listed: [listed('m.jpg', { embedded: false })],
      failures: [
        failure('broken.jpg', 'IMAGE_DECODE_FAILED'),
        failure('mismatch.jpg', 'WORKER_MODEL_MISMATCH'),
        failure('m.jpg', 'UNSUPPORTED_IMAGE'),
      ],
      labels: undefined,
    });
    assert.deepEqual(
      plan.toHash.map((h) => h.file.relPath),
      ['broken.jpg'],
    );
    assert.deepEqual(
      plan.toEmbed.map((t) => t.sourceKey),
      ['mismatch.jpg'],
      'a failure that is not about the content is retried',
    );
    assert.deepEqual(plan.knownFailures, ['m.jpg'], 'same content as the failed re-embed');
    const known = resolveHashed(plan.toHash[0]!, H1);
    assert.deepEqual(known, { kind: 'known-failure', sourceKey: 'broken.jpg' });
    const fixed = resolveHashed(plan.toHash[0]!, H2);
    assert.equal(fixed.kind, 'embed');
    assert.equal(fixed.kind === 'embed' && fixed.task.kind, 'added');
  });

  it('GIVEN a hashed file THEN same content is a touch and other content an update', () => {
    const plan = planCatalog({
      files: [file('t.jpg', 100, 5000)],
      listed: [listed('t.jpg')],
      failures: [],
      labels: undefined,
    });
    const task = plan.toHash[0]!;
    const touched = resolveHashed(task, H1);
    assert.equal(touched.kind, 'touched');
    assert.deepEqual(touched.kind === 'touched' && touched.relabel.metadata, {
      id: 't',
      labels: {},
      file: { size: 100, mtimeMs: 5000 },
    });
    assert.equal(touched.kind === 'touched' && touched.labelsChanged, false);
    const changed = resolveHashed(task, H2);
    assert.equal(changed.kind, 'embed');
    if (changed.kind === 'embed') {
      assert.equal(changed.task.kind, 'updated');
      assert.equal(changed.task.expectedHash, H1);
      assert.equal(changed.task.contentHash, H2);
      assert.equal(changed.task.searchable, true);
    }
  });
});

describe('local reindexer', () => {
  let server: PgServer;
  let db: PgCatalog;
  let real: ImageEmbedder;
  let emb: CountingEmbedder;
  let cat: TestCatalog;
  let reindexer: Reindexer;
  const NAME = 'local';

  const open = (extra: Partial<Parameters<typeof createLocalReindexer>[0]> = {}) =>
    createLocalReindexer({
      name: NAME,
      pg: db,
      embedder: emb,
      weights: real.weights,
      dimension: real.dimension,
      imagesDir: cat.imagesDir,
      labelsPath: cat.labelsPath,
      batchSize: 4,
      ...extra,
    });

  before(async () => {
    server = await startPostgres();
    ({ pg: db } = await freshCatalog(server));
    real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 4 });
    emb = countingEmbedder(real);
    cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: COUNT });
    reindexer = open();
  });

  after(async () => {
    await reindexer?.close();
    await db?.close();
    await real?.dispose();
    await server?.stop();
    await rm(ROOT, { recursive: true, force: true });
  });

  it('GIVEN an empty catalog THEN the first run embeds every file and stores the embedder’s vectors', async () => {
    const events: ReindexProgress[] = [];
    const s = await reindexer.run((p) => events.push(p));
    assert.equal(s.added, COUNT);
    assert.equal(s.embedded, COUNT);
    assert.equal(s.failed, 0);
    assert.equal(s.resumed, false);
    assert.ok(s.version > 0);
    assert.equal(emb.embedded, COUNT);
    assert.ok(emb.priorities.has('batch') && emb.priorities.size === 1, 'catalog work is batch priority');
    assert.deepEqual(
      [...new Set(events.map((e) => e.phase))],
      ['scanning', 'hashing', 'removing', 'embedding', 'done'],
    );
    assert.equal(events.at(-1)?.searchable, COUNT);
    assert.equal(reindexer.progress(), null, 'no progress once the run is over');

    const stored = await storedVectors(db.store, NAME, real.weights);
    assert.equal(stored.size, COUNT);
    const item = cat.items[3]!;
    const row = stored.get(item.file);
    assert.ok(row, `stored ${item.file}`);
    const [direct] = await real.embed([await readFile(join(cat.imagesDir, item.file))]);
    assert.ok(maxAbsDiff(row.vector, direct!) < 1e-4, 'the stored vector is the embedding of the file');
    assert.equal(row.metadata.id, item.id);
    assert.deepEqual((row.metadata.labels as Record<string, string>).articleType, item.articleType);
    assert.equal(typeof (row.metadata.file as { size: number }).size, 'number');

    const run = await db.store.getRun(s.runId);
    assert.equal(run?.status, 'done');
    assert.equal(run?.counts.added, COUNT);
  });

  it('GIVEN nothing changed THEN a second run embeds nothing and leaves the version alone', async () => {
    emb.reset();
    const before = await db.store.catalogVersion(NAME);
    const s = await reindexer.run();
    assert.equal(s.unchanged, COUNT);
    assert.equal(s.embedded, 0);
    assert.equal(emb.embedded, 0);
    assert.equal(s.version, before);
  });

  it('GIVEN changed labels and a touched file THEN items are relabelled and touched without re-embedding', async () => {
    emb.reset();
    const item = cat.items[0]!;
    const text = await readFile(cat.labelsPath, 'utf8');
    await writeFile(cat.labelsPath, text.replace(item.productDisplayName, 'Renamed Product'));
    const touched = join(cat.imagesDir, cat.items[1]!.file);
    await utimes(touched, new Date(), new Date(Date.now() + 5000));
    const s = await reindexer.run();
    assert.equal(s.relabelled, 1);
    assert.equal(s.embedded, 0);
    assert.equal(emb.embedded, 0);
    assert.equal(s.unchanged, COUNT);
    const listedNow = await db.store.listItems(NAME, modelKey(real.weights));
    const relabelled = listedNow.find((i) => i.sourceKey === item.file)!;
    assert.equal((relabelled.metadata.labels as Record<string, string>).productDisplayName, 'Renamed Product');
    const t = listedNow.find((i) => i.sourceKey === cat.items[1]!.file)!;
    assert.equal((t.metadata.file as { mtimeMs: number }).mtimeMs, (await stat(touched)).mtimeMs);
    emb.reset();
    const again = await reindexer.run();
    assert.equal(again.embedded, 0, 'the touch was recorded: the file is not hashed again');
    assert.equal(again.relabelled, 0);
  });

  it('GIVEN a changed file and a corrupt new one THEN one is updated and the other recorded, not retried', async () => {
    emb.reset();
    const target = cat.items[2]!;
    await copyFile(join(cat.imagesDir, cat.items[5]!.file), join(cat.imagesDir, target.file));
    // A JPEG cut short: recognised as JPEG, but it does not decode.
    const jpeg = cat.items.find((i) => i.file.endsWith('.jpg'))!;
    await writeFile(
      join(cat.imagesDir, 'broken.jpg'),
      (await readFile(join(cat.imagesDir, jpeg.file))).subarray(0, 300),
    );
    const s = await reindexer.run();
    assert.equal(s.updated, 1);
    assert.equal(s.added, 0);
    assert.equal(s.failed, 1);
    assert.deepEqual(s.failedFiles, ['broken.jpg']);
    const failures = await db.store.failures(NAME);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.code, 'IMAGE_DECODE_FAILED');
    assert.match(failures[0]?.contentHash ?? '', /^[0-9a-f]{64}$/);
    const stored = await storedVectors(db.store, NAME, real.weights);
    const a = stored.get(target.file)!;
    const b = stored.get(cat.items[5]!.file)!;
    assert.equal(a.contentHash, b.contentHash);
    assert.ok(maxAbsDiff(a.vector, b.vector) < 1e-4);

    emb.reset();
    const again = await reindexer.run();
    assert.equal(again.failed, 1, 'reported again');
    assert.equal(again.embedded, 0, 'the same broken content is not retried');
    await rm(join(cat.imagesDir, 'broken.jpg'));
  });

  it('GIVEN a run already going THEN another run here or in another process is refused with REINDEX_IN_PROGRESS', async () => {
    const gate = steppedEmbedder(real);
    const gated = open({ embedder: gate });
    const other = open();
    await writeFile(join(cat.imagesDir, 'extra.jpg'), await readFile(join(cat.imagesDir, cat.items[7]!.file)));
    const run = gated.run();
    await gate.firstHeld;
    const here = await rejectsWith(gated.run(), 'REINDEX_IN_PROGRESS');
    assert.equal((here.details.progress as ReindexProgress).phase, 'embedding');
    await rejectsWith(other.run(), 'REINDEX_IN_PROGRESS');
    gate.openAll();
    const s = await run;
    assert.equal(s.added, 1);
    await gated.close();
    await other.close();
  });

  it('GIVEN a run a killed process left running THEN the next run continues it', async () => {
    const orphan = await db.store.startRun(NAME);
    await writeFile(join(cat.imagesDir, 'extra2.jpg'), await readFile(join(cat.imagesDir, cat.items[8]!.file)));
    const s = await reindexer.run();
    assert.equal(s.resumed, true);
    assert.equal(s.runId, orphan);
    assert.equal(s.added, 1);
    assert.equal((await db.store.getRun(orphan))?.status, 'done');
    assert.equal(await db.store.runningRun(NAME), undefined);
  });

  it('GIVEN most files gone THEN the run is refused before any write, and a confirmed run removes them', async () => {
    const away = join(ROOT, 'away');
    await mkdir(away, { recursive: true });
    const moved = cat.items.slice(0, 12).map((i) => i.file);
    for (const f of moved) await rename(join(cat.imagesDir, f), join(away, f));
    const version = await db.store.catalogVersion(NAME);
    const err = await rejectsWith(reindexer.run(), 'REINDEX_MASS_REMOVAL');
    assert.equal(err.details.wouldRemove, 12);
    assert.equal(await db.store.catalogVersion(NAME), version, 'nothing was written');
    assert.equal((await db.store.listItems(NAME, modelKey(real.weights))).length, COUNT + 2);
    await rejectsWith(reindexer.run(undefined, { allowRemovals: true, maxRemovals: 11 }), 'REINDEX_MASS_REMOVAL');
    await rejectsWith(reindexer.run(undefined, { maxRemovals: -1 }), 'BAD_REQUEST');
    const s = await reindexer.run(undefined, { allowRemovals: true, maxRemovals: 12 });
    assert.equal(s.removed, 12);
    assert.equal((await db.store.listItems(NAME, modelKey(real.weights))).length, COUNT + 2 - 12);
    for (const f of moved) await rename(join(away, f), join(cat.imagesDir, f));
  });

  it('GIVEN no images folder THEN the run fails with CATALOG_NOT_FOUND', async () => {
    const none = open({ imagesDir: undefined });
    await rejectsWith(none.run(), 'CATALOG_NOT_FOUND');
    await none.close();
  });
});
