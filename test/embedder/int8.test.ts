/**
 * The int8 ResNet50: `quantizeModels` on the untrained test weights (calibrated on generated
 * garment photos), loaded by the real embedder on ONNX Runtime, compared with fp32; ORT fuses
 * the QDQ groups into QLinearConv; the catalog treats int8 and fp32 as different models.
 * (Untrained weights: the activation statistics are not those of the ImageNet weights.)
 */
import assert from 'node:assert/strict';
import { link, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCatalog } from '@lookalike/catalog';
import { modelKey } from '@lookalike/cluster';
import { LookalikeError } from '@lookalike/core';
import {
  createEmbedder,
  DEFAULT_WEIGHT_QMAX,
  type ImageEmbedder,
  INT8_ONNX_FILE,
  type Manifest,
  quantizeModels,
  readManifest,
} from '@lookalike/embedder';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { variedImages } from './fixtures.ts';

const ROOT = join(TEST_TMP_DIR, `int8-${process.pid}`);
const CALIBRATION_IMAGES = 16;

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return d / Math.sqrt(na * nb);
}

/** A models dir of hard links to the shared untrained files (quantize writes only new files). */
async function linkedModelsDir(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const rel of await readdir(from, { recursive: true, withFileTypes: true })) {
    if (!rel.isFile()) continue;
    const src = join(rel.parentPath, rel.name);
    const dst = join(to, src.slice(from.length));
    await mkdir(join(dst, '..'), { recursive: true });
    await link(src, dst);
  }
}

function opCounts(bytes: Uint8Array): Map<string, number> {
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  const counts = new Map<string, number>();
  for (const n of m.graph?.node ?? []) counts.set(String(n.opType), (counts.get(String(n.opType)) ?? 0) + 1);
  return counts;
}

describe('int8 ResNet50 (static QDQ, untrained weights)', () => {
  let modelsDir: string;
  let manifest: Manifest;
  let calibration: TestCatalog;
  let fp32: ImageEmbedder;
  let int8: ImageEmbedder;

  before(async () => {
    await rm(ROOT, { recursive: true, force: true });
    modelsDir = join(ROOT, 'models');
    await linkedModelsDir(await ensureUntrainedModels(), modelsDir);
    calibration = await makeTestCatalog(join(ROOT, 'calibration'), { count: 24, seed: 3 });
    const result = await quantizeModels({
      modelsDir,
      calibrationDir: calibration.imagesDir,
      images: CALIBRATION_IMAGES,
    });
    manifest = result.manifest;
    fp32 = await createEmbedder({ modelsDir, warnUntrained: false });
    int8 = await createEmbedder({ modelsDir, precision: 'int8', warnUntrained: false });
  });

  after(async () => {
    await fp32?.dispose();
    await int8?.dispose();
    await rm(ROOT, { recursive: true, force: true });
  });

  it('GIVEN models quantize THEN the manifest records the int8 file, its calibration set and method', async () => {
    const read = await readManifest(modelsDir, { verify: true });
    assert.deepEqual(read.files.int8, manifest.files.int8);
    assert.equal(read.files.int8?.path, INT8_ONNX_FILE);
    const q = read.quantization;
    assert.ok(q !== undefined);
    assert.equal(q.fromOnnxSha256, read.files.onnx.sha256);
    assert.deepEqual(q.activations, {
      type: 'uint8',
      granularity: 'per-tensor',
      method: 'percentile',
      percentile: 99.999,
    });
    assert.deepEqual(q.weights, {
      type: 'int8',
      granularity: 'per-channel',
      symmetric: true,
      qmax: DEFAULT_WEIGHT_QMAX,
    });
    assert.equal(q.calibration.dir, calibration.imagesDir);
    assert.equal(q.calibration.images, CALIBRATION_IMAGES);
    assert.ok(q.fp32Nodes.includes('conv5_block3_out'), 'the tensor GlobalMaxPool reads stays fp32');
  });

  it('GIVEN the int8 file THEN ORT (level all) fuses every quantized conv into QLinearConv and adds into QLinearAdd', async () => {
    const raw = opCounts(await readFile(join(modelsDir, INT8_ONNX_FILE)));
    assert.equal(raw.get('Conv'), 53, 'the QDQ file holds plain Convs between DQ/Q nodes');
    assert.equal(raw.get('Relu'), 1, 'ReLUs are folded into the quantization, but for the fp32 tail');
    const optimized = join(ROOT, 'int8.optimized.onnx');
    const session = await ort.InferenceSession.create(join(modelsDir, INT8_ONNX_FILE), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
      logSeverityLevel: 3,
    });
    await session.release();
    const ops = opCounts(await readFile(optimized));
    assert.equal(ops.get('QLinearConv'), 52, 'all convs but the last block’s expand conv');
    assert.equal(ops.get('QLinearAdd'), 15);
    assert.equal(ops.get('QuantizeLinear'), 1, 'only the input is quantized at run time');
    assert.equal(ops.get('GlobalMaxPool'), 1);
    assert.equal(ops.get('ReduceL2'), 1);
  });

  it('GIVEN 20 varied images THEN int8 vectors are unit length and cosine ≥ 0.97 with fp32 for each', async () => {
    const images = await variedImages();
    assert.equal(images.length, 20);
    const [a, b] = await Promise.all([fp32.embed(images.map((i) => i.bytes)), int8.embed(images.map((i) => i.bytes))]);
    const cosines = images.map((_, i) => cosine(a[i] as Float32Array, b[i] as Float32Array));
    for (const [i, c] of cosines.entries()) {
      assert.ok(c >= 0.97, `${images[i]?.name}: cosine ${c}`);
      const v = b[i] as Float32Array;
      assert.equal(v.length, 2048);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
    }
    const mean = cosines.reduce((s, c) => s + c, 0) / cosines.length;
    assert.ok(mean >= 0.99, `mean cosine ${mean}`);
  });

  it('GIVEN int8 THEN the weights identity differs from fp32 and names the precision', () => {
    assert.equal(fp32.weights.precision, 'fp32');
    assert.equal(int8.weights.precision, 'int8');
    assert.equal(fp32.weights.md5, manifest.sourceMd5, 'fp32 keeps the source md5');
    assert.match(int8.weights.md5, /^[0-9a-f]{32}$/);
    assert.notEqual(int8.weights.md5, fp32.weights.md5);
    assert.match(int8.weights.description, /int8/);
    assert.match(int8.runtimeDetail, /int8/);
    assert.equal(modelKey(fp32.weights), `resnet50-gmp:${manifest.sourceMd5}:fp32`);
    assert.equal(modelKey(int8.weights), `resnet50-gmp:${int8.weights.md5}:int8`);
  });

  it('GIVEN an fp32 catalog THEN an int8 embedder is refused (INDEX_MODEL_MISMATCH) until re-embedded', async () => {
    const dataDir = join(ROOT, 'data');
    const cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: 6, seed: 11 });
    const c1 = await openCatalog({ dataDir, imagesDir: cat.imagesDir, labelsPath: cat.labelsPath, embedder: fp32 });
    await c1.reindex();
    assert.equal(c1.size(), 6);
    await c1.close();
    await assert.rejects(
      openCatalog({ dataDir, imagesDir: cat.imagesDir, embedder: int8 }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
    );
    const c2 = await openCatalog({ dataDir, imagesDir: cat.imagesDir, embedder: int8, allowModelMismatch: true });
    assert.equal(c2.info().modelMismatch, true);
    await c2.reindex();
    assert.equal(c2.info().storedWeights?.md5, int8.weights.md5, 'the catalog now holds int8 vectors');
    await c2.close();
    await assert.rejects(
      openCatalog({ dataDir, imagesDir: cat.imagesDir, embedder: fp32 }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_MODEL_MISMATCH',
      'and now fp32 is the other model',
    );
  });

  it('GIVEN precision int8 with tfjs, or no int8 file THEN coded errors', async () => {
    await assert.rejects(
      createEmbedder({ modelsDir, precision: 'int8', runtime: 'tfjs' }),
      (err: unknown) => err instanceof LookalikeError && err.code === 'CONFIG_INVALID',
    );
    await assert.rejects(
      createEmbedder({ modelsDir: await ensureUntrainedModels(), precision: 'int8' }),
      (err: unknown) =>
        err instanceof LookalikeError && err.code === 'MODEL_NOT_FOUND' && /models quantize/.test(err.message),
    );
  });
});
