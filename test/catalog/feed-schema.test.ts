/**
 * The catalog database's schema 2 (feed catalogs): a schema-1 database, as the previous release
 * wrote it, opens and is upgraded in place (items kept and searchable, the image cache column,
 * the content-hash index and the HTTP validators table added), read-only looks at it still work,
 * and a database of an unknown newer schema is refused. Real SQLite, FAISS, ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCatalog, readStoredWeights, SCHEMA_VERSION, vectorToBlob } from '@lookalike/catalog';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import Database from 'better-sqlite3';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { rng } from '../helpers/rng.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-feed-schema-${process.pid}`);

/** The tables exactly as schema 1 made them. */
const SCHEMA_1_DDL = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE items (
    fid INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    sha256 TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL,
    indexed_at INTEGER NOT NULL
  );
  CREATE INDEX items_id ON items(id);
  CREATE TABLE failures (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
`;

function unitVector(dimension: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = new Float32Array(dimension);
  let n = 0;
  for (let i = 0; i < dimension; i++) {
    v[i] = r() - 0.5;
    n += v[i]! ** 2;
  }
  for (let i = 0; i < dimension; i++) v[i]! /= Math.sqrt(n);
  return v;
}

let real: ImageEmbedder;

before(async () => {
  real = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 2 });
});

after(async () => {
  await real?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

/** Writes a schema-1 catalog of `n` items made with the loaded weights. */
async function writeSchema1(dataDir: string, n: number): Promise<Float32Array[]> {
  await mkdir(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'catalog.sqlite'));
  const vectors: Float32Array[] = [];
  try {
    db.exec(SCHEMA_1_DDL);
    const meta = db.prepare('INSERT INTO meta(key, value) VALUES (?, ?)');
    for (const [k, v] of [
      ['schema_version', '1'],
      ['weights_source', real.weights.source],
      ['weights_md5', real.weights.md5],
      ['weights_description', real.weights.description],
      ['images_dir', join(dataDir, 'images')],
      ['labels_path', ''],
      ['generation', '1'],
      ['index_kind', 'flat'],
    ]) {
      meta.run(k, v);
    }
    const insert = db.prepare(
      `INSERT INTO items(path, id, size, mtime_ms, sha256, metadata, vector, indexed_at)
       VALUES (?, ?, 100, 1, ?, ?, ?, 1)`,
    );
    for (let i = 0; i < n; i++) {
      const v = unitVector(real.dimension, 100 + i);
      vectors.push(v);
      insert.run(
        `${1000 + i}.jpg`,
        String(1000 + i),
        `${i}`.padStart(64, '0'),
        JSON.stringify({ articleType: 'Shirts' }),
        vectorToBlob(v),
      );
    }
    db.prepare("INSERT INTO failures VALUES ('broken.jpg', 5, 1, 'IMAGE_DECODE_FAILED', 'bad', 1)").run();
  } finally {
    db.close();
  }
  return vectors;
}

describe('catalog schema 2', () => {
  it('GIVEN a schema-1 catalog THEN it opens, is upgraded in place and its items answer as before', async () => {
    const dataDir = join(ROOT, 'v1');
    const vectors = await writeSchema1(dataDir, 5);
    assert.equal(SCHEMA_VERSION, 2);
    assert.equal(readStoredWeights(dataDir)?.md5, real.weights.md5, 'read-only look at a schema-1 database');

    const catalog = await openCatalog({ dataDir, embedder: real });
    try {
      assert.equal(catalog.size(), 5);
      const info = catalog.info();
      assert.equal(info.kind, 'folder');
      assert.equal(info.feed, undefined);
      assert.equal(info.imagesDir, join(dataDir, 'images'));
      const hits = catalog.search(vectors[2]!, { k: 3, excludeDuplicates: false });
      assert.equal(hits[0]?.id, '1002');
      assert.equal(hits[0]?.path, join(dataDir, 'images', '1002.jpg'));
      assert.deepEqual(catalog.vectorOf('1004'), vectors[4]);
    } finally {
      await catalog.close();
    }

    const db = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true });
    try {
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string };
      assert.equal(version.value, '2');
      const columns = (db.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((c) => c.name);
      assert.ok(columns.includes('file'), 'items.file (the image cache file of feed items)');
      const validators = (db.prepare('PRAGMA table_info(http_validators)').all() as { name: string }[]).map(
        (c) => c.name,
      );
      assert.deepEqual(validators, ['url', 'etag', 'last_modified', 'final_url', 'sha256', 'file', 'checked_at']);
      const indexes = (db.prepare('PRAGMA index_list(items)').all() as { name: string }[]).map((i) => i.name);
      assert.ok(indexes.includes('items_sha256'));
      assert.equal((db.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n, 5);
      assert.equal((db.prepare('SELECT count(*) AS n FROM failures').get() as { n: number }).n, 1, 'failures kept');
    } finally {
      db.close();
    }

    // Opening the upgraded database again changes nothing.
    const again = await openCatalog({ dataDir, embedder: real });
    try {
      assert.equal(again.size(), 5);
    } finally {
      await again.close();
    }
  });

  it('GIVEN a database of a newer schema THEN it is refused and left as it is', async () => {
    const dataDir = join(ROOT, 'v99');
    await writeSchema1(dataDir, 1);
    const db = new Database(join(dataDir, 'catalog.sqlite'));
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    await assert.rejects(openCatalog({ dataDir, embedder: real }), /Unsupported catalog schema version 99/);
    const check = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true });
    try {
      const columns = (check.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((c) => c.name);
      assert.ok(!columns.includes('file'), 'not upgraded');
    } finally {
      check.close();
    }
  });
});
