/**
 * The weights pipeline: Keras-layout HDF5 (current and legacy names) → validated weights →
 * resnet50.onnx + tfjs + manifest.json, checked against an independent float64 Keras reference.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLookalikeError, LookalikeError } from '@lookalike/core';
import {
  CAFFE_MEAN_BGR,
  CONV_UNITS,
  convertWeightsFile,
  countParameters,
  createUntrainedWeights,
  hashFile,
  type Manifest,
  manifestFiles,
  OFFICIAL_WEIGHTS_MD5,
  RESNET50_PARAMETERS,
  type ResNet50Weights,
  readKerasWeights,
  readManifest,
  SeededRandom,
  type UnitWeights,
  weightsInfo,
  writeKerasWeights,
} from '@lookalike/embedder';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import * as ort from 'onnxruntime-node';
import { kerasReferenceEmbedding, readReferenceWeights } from '../helpers/keras-reference.js';
import { ensureUntrainedModels, TEST_TMP_DIR, UNTRAINED_TEST_SEED } from '../helpers/models.js';

const SEED = 20261129;
const work = join(TEST_TMP_DIR, `weights-test-${process.pid}`);
const currentH5 = join(work, 'current.h5');
const legacyH5 = join(work, 'legacy.h5');
let weights: ResNet50Weights;

/** A deterministic caffe-preprocessed 224×224 NHWC image (BGR minus mean): gradients, stripes, noise. */
function syntheticImage(seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const out = new Float32Array(224 * 224 * 3);
  const fx = 0.02 + 0.05 * rng.next();
  const fy = 0.02 + 0.05 * rng.next();
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      const r = 127.5 + 127.5 * Math.sin(x * fx + y * 0.01);
      const g = 255 * ((x + y) / 446);
      const b = (Math.floor(y * fy * 10) % 2) * 200 + 40 * rng.next();
      const i = (y * 224 + x) * 3;
      out[i] = Math.min(255, b) - CAFFE_MEAN_BGR[0];
      out[i + 1] = g - CAFFE_MEAN_BGR[1];
      out[i + 2] = r - CAFFE_MEAN_BGR[2];
    }
  }
  return out;
}

function withUnit(w: ResNet50Weights, id: string, change: (u: UnitWeights) => UnitWeights): ResNet50Weights {
  const units = new Map(w.units);
  const u = units.get(id);
  assert.ok(u, `unit ${id}`);
  units.set(id, change(u));
  return { units };
}

async function expectWeightsInvalid(path: string, layer: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(readKerasWeights(path), (err: unknown) => {
    assert.ok(isLookalikeError(err), 'a LookalikeError');
    assert.equal(err.code, 'WEIGHTS_INVALID');
    assert.equal(err.details.layer, layer, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" mentions "${f}"`);
    return true;
  });
}

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

async function runOnnx(modelsDir: string, images: Float32Array[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(join(modelsDir, 'resnet50.onnx'));
  try {
    const batch = new Float32Array(images.length * 224 * 224 * 3);
    images.forEach((img, i) => {
      batch.set(img, i * img.length);
    });
    const out = await session.run({ input: new ort.Tensor('float32', batch, [images.length, 224, 224, 3]) });
    const emb = out.embedding;
    assert.ok(emb, 'output "embedding"');
    assert.deepEqual(emb.dims, [images.length, 2048]);
    const data = emb.data as Float32Array;
    return images.map((_, i) => data.slice(i * 2048, (i + 1) * 2048));
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
}

before(async () => {
  await mkdir(work, { recursive: true });
  weights = createUntrainedWeights(SEED);
  await writeKerasWeights(currentH5, weights, { scheme: 'current', strings: 'fixed' });
  await writeKerasWeights(legacyH5, weights, { scheme: 'legacy', strings: 'vlen' });
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('Keras ResNet50 layout', () => {
  it('GIVEN the layout THEN it has 53 conv + 53 BN layers and 23,587,712 parameters', () => {
    assert.equal(CONV_UNITS.length, 53);
    assert.equal(new Set(CONV_UNITS.map((u) => u.bnName)).size, 53);
    assert.equal(new Set(CONV_UNITS.map((u) => u.legacyBnName)).size, 53);
    assert.equal(countParameters(weights), 23_587_712);
    assert.equal(RESNET50_PARAMETERS, 23_587_712);
  });

  it('GIVEN the same seed THEN untrained weights are identical; another seed THEN the draws differ', () => {
    const again = createUntrainedWeights(SEED);
    for (const u of CONV_UNITS) {
      const a = weights.units.get(u.id);
      const b = again.units.get(u.id);
      assert.ok(a && b);
      for (const k of ['kernel', 'bias', 'gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
        assert.ok(bytesEqual(a[k], b[k]), `${u.id} ${k}`);
      }
    }
    const r1 = new SeededRandom(SEED);
    const r2 = new SeededRandom(SEED + 1);
    const d1 = Array.from({ length: 64 }, () => r1.normal());
    const d2 = Array.from({ length: 64 }, () => r2.normal());
    assert.notDeepEqual(d1, d2);
  });

  it('GIVEN untrained weights THEN kernels are He-normal (std √(2/fan_in)) and BN statistics tame', () => {
    const u = CONV_UNITS.find((c) => c.id === 'conv4_block1_2');
    assert.ok(u);
    const w = weights.units.get(u.id);
    assert.ok(w);
    let mean = 0;
    for (const v of w.kernel) mean += v;
    mean /= w.kernel.length;
    let variance = 0;
    for (const v of w.kernel) variance += (v - mean) ** 2;
    const std = Math.sqrt(variance / w.kernel.length);
    const expected = Math.sqrt(2 / (3 * 3 * u.inChannels));
    assert.ok(Math.abs(std / expected - 1) < 0.02, `std ${std} vs ${expected}`);
    assert.ok(Math.abs(mean) < expected * 0.01);
    for (const v of w.movingVariance) assert.ok(v >= 0.8 && v <= 1.2);
    for (const g of w.gamma) assert.ok(g >= 0.8 && g <= 1.2);
  });
});

describe('HDF5 loader', () => {
  for (const [scheme, path, strings] of [
    ['current', currentH5, 'fixed-length'],
    ['legacy', legacyH5, 'vlen'],
  ] as const) {
    it(`GIVEN a Keras HDF5 file with ${scheme} layer names (${strings} strings) THEN every weight loads unchanged`, async () => {
      const loaded = await readKerasWeights(path);
      assert.equal(loaded.scheme, scheme);
      assert.equal(loaded.parameters, 23_587_712);
      for (const u of CONV_UNITS) {
        const a = weights.units.get(u.id);
        const b = loaded.weights.units.get(u.id);
        assert.ok(a && b, u.id);
        assert.deepEqual(b.kernelShape, [u.kernel, u.kernel, u.inChannels, u.outChannels]);
        for (const k of ['kernel', 'bias', 'gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
          assert.ok(bytesEqual(a[k], b[k]), `${u.id} ${k}`);
        }
      }
    });
  }

  it('GIVEN the legacy fixture THEN it really uses the legacy names and string encodings differ', async () => {
    await h5wasm.ready;
    const legacy = new h5wasm.File(legacyH5, 'r');
    const current = new h5wasm.File(currentH5, 'r');
    try {
      const ln = legacy.attrs.layer_names;
      const cn = current.attrs.layer_names;
      assert.ok(ln && cn);
      const legacyNames = (ln.value as string[]).map(String);
      assert.ok(legacyNames.includes('res3b_branch2b') && legacyNames.includes('bn_conv1'));
      assert.ok(legacyNames.includes('bn5c_branch2c') && legacyNames.includes('res4f_branch2a'));
      assert.ok(!legacyNames.includes('conv1_conv'));
      assert.ok((cn.value as string[]).includes('conv3_block2_2_conv'));
      assert.equal(ln.metadata.vlen, true);
      assert.equal(cn.metadata.vlen, false);
      const ds = legacy.get('res2a_branch1/res2a_branch1/kernel:0');
      assert.ok(ds instanceof h5wasm.Dataset);
      assert.deepEqual(ds.shape, [1, 1, 64, 256]);
    } finally {
      legacy.close();
      current.close();
    }
  });

  it('GIVEN a wrong kernel shape THEN the error names the layer, the expected and the actual shape', async () => {
    const bad = withUnit(weights, 'conv3_block2_2', (u) => ({
      ...u,
      kernel: new Float32Array(3 * 3 * 128 * 64),
      kernelShape: [3, 3, 128, 64],
    }));
    const path = join(work, 'bad-shape.h5');
    await writeKerasWeights(path, bad);
    await expectWeightsInvalid(
      path,
      'conv3_block2_2_conv',
      'conv3_block2_2_conv',
      '(3, 3, 128, 128)',
      '(3, 3, 128, 64)',
    );
    const legacyPath = join(work, 'bad-shape-legacy.h5');
    await writeKerasWeights(legacyPath, bad, { scheme: 'legacy' });
    await expectWeightsInvalid(legacyPath, 'res3b_branch2b', 'res3b_branch2b', '(3, 3, 128, 128)');
  });

  it('GIVEN two bad layers THEN the first one in model order is named', async () => {
    let bad = withUnit(weights, 'conv4_block5_3', (u) => ({ ...u, bias: new Float32Array(10) }));
    bad = withUnit(bad, 'conv2_block3_1', (u) => ({ ...u, gamma: new Float32Array(32) }));
    const path = join(work, 'two-bad.h5');
    await writeKerasWeights(path, bad);
    await expectWeightsInvalid(path, 'conv2_block3_1_bn', 'gamma', '(64)', '(32)');
  });

  it('GIVEN a NaN in a moving variance THEN the error names the layer', async () => {
    const bad = withUnit(weights, 'conv5_block2_3', (u) => {
      const movingVariance = Float32Array.from(u.movingVariance);
      movingVariance[7] = Number.NaN;
      return { ...u, movingVariance };
    });
    const path = join(work, 'nan.h5');
    await writeKerasWeights(path, bad);
    await expectWeightsInvalid(path, 'conv5_block2_3_bn', 'moving_variance', 'NaN');
  });

  it('GIVEN a missing layer THEN the error names it', async () => {
    const path = join(work, 'missing.h5');
    await writeKerasWeights(path, weights, { omitLayers: ['conv4_block3_1_bn'] });
    await expectWeightsInvalid(path, 'conv4_block3_1_bn', 'conv4_block3_1_bn', 'missing');
    const legacyPath = join(work, 'missing-legacy.h5');
    await writeKerasWeights(legacyPath, weights, { scheme: 'legacy', omitLayers: ['res5a_branch1'] });
    await expectWeightsInvalid(legacyPath, 'res5a_branch1', 'res5a_branch1');
  });

  it('GIVEN a file that is not HDF5 THEN WEIGHTS_INVALID', async () => {
    const path = join(work, 'not.h5');
    await writeFile(path, 'this is not an HDF5 file');
    await assert.rejects(readKerasWeights(path), (err: unknown) => {
      assert.ok(err instanceof LookalikeError);
      assert.equal(err.code, 'WEIGHTS_INVALID');
      return true;
    });
  });
});

describe('conversion', () => {
  const currentDir = join(work, 'models-current');
  const legacyDir = join(work, 'models-legacy');
  const images = [syntheticImage(1), syntheticImage(2)];
  let current: Manifest;

  before(async () => {
    current = (await convertWeightsFile({ h5Path: currentH5, modelsDir: currentDir })).manifest;
    await convertWeightsFile({ h5Path: legacyH5, modelsDir: legacyDir });
  });

  it('GIVEN a converted file THEN the ONNX model equals the float64 Keras reference within 1e-4, under both naming schemes', async () => {
    const reference = kerasReferenceEmbedding(await readReferenceWeights(currentH5), images[0] as Float32Array);
    assert.ok(Math.abs(norm(reference) - 1) < 1e-12);
    const fromCurrent = await runOnnx(currentDir, images);
    const fromLegacy = await runOnnx(legacyDir, images);
    const [c0, c1] = fromCurrent;
    const [l0, l1] = fromLegacy;
    assert.ok(c0 && c1 && l0 && l1);
    const d = maxAbsDiff(reference, c0);
    assert.ok(d <= 1e-4, `ONNX (current names) vs Keras reference: max |Δ| = ${d}`);
    const dl = maxAbsDiff(reference, l0);
    assert.ok(dl <= 1e-4, `ONNX (legacy names) vs Keras reference: max |Δ| = ${dl}`);
    // The second image of the batch is a different picture with its own unit-norm vector.
    assert.ok(Math.abs(norm(c1) - 1) < 1e-5);
    assert.ok(maxAbsDiff(c0, c1) > 1e-3, 'different images give different vectors');
    assert.ok(maxAbsDiff(c1, l1) <= 1e-6);
  });

  it('GIVEN a non-official file THEN the manifest records source "file", its md5, and checksums that verify', async () => {
    const md5 = await hashFile(currentH5, 'md5');
    assert.notEqual(md5, OFFICIAL_WEIGHTS_MD5);
    assert.equal(current.source, 'file');
    assert.equal(current.sourceMd5, md5);
    assert.equal(current.sourceName, 'current.h5');
    assert.equal(current.parameters, 23_587_712);
    assert.deepEqual(current.preprocessing.mean, [103.939, 116.779, 123.68]);
    assert.equal(current.preprocessing.channelOrder, 'BGR');
    assert.equal(current.output.dimension, 2048);
    const again = await readManifest(currentDir, { verify: true });
    assert.deepEqual(again, current);
    for (const f of manifestFiles(current)) {
      assert.equal(await hashFile(join(currentDir, f.path), 'sha256'), f.sha256, f.path);
    }
    for (const s of current.files.tfjs.shards) {
      assert.ok((await stat(join(currentDir, 'tfjs', s.path))).size <= 4 * 1024 * 1024, s.path);
    }
    const info = weightsInfo(current);
    assert.equal(info.source, 'file');
    assert.equal(info.untrained, false);
    assert.equal(info.md5, md5);
  });

  it('GIVEN the tfjs export THEN it is a LayersModel [N,224,224,3] → [N,2048] holding the folded conv weights', async () => {
    const json = JSON.parse(await readFile(join(currentDir, current.files.tfjs.path), 'utf8')) as {
      format: string;
      modelTopology: object;
      weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    };
    assert.equal(json.format, 'layers-model');
    const group = json.weightsManifest[0];
    assert.ok(group);
    assert.deepEqual(
      group.paths,
      current.files.tfjs.shards.map((s) => s.path),
    );
    const shards = await Promise.all(group.paths.map((p) => readFile(join(currentDir, 'tfjs', p))));
    const all = Buffer.concat(shards);
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: group.weights,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      }),
    );
    try {
      assert.deepEqual(model.inputs[0]?.shape, [null, 224, 224, 3]);
      assert.deepEqual(model.outputs[0]?.shape, [null, 2048]);
      // Folded convs: kernels + biases of 53 convs (BN statistics are gone).
      const convParams = CONV_UNITS.reduce(
        (n, u) => n + u.kernel * u.kernel * u.inChannels * u.outChannels + u.outChannels,
        0,
      );
      assert.equal(model.countParams(), convParams);
      assert.equal(group.weights.length, 106);
    } finally {
      model.dispose();
    }
  });
});

describe('manifest', () => {
  it('GIVEN an empty models dir THEN readManifest throws MODEL_NOT_FOUND with a set-up hint', async () => {
    const empty = join(work, 'empty-models');
    await mkdir(empty, { recursive: true });
    await assert.rejects(readManifest(empty), (err: unknown) => {
      assert.ok(isLookalikeError(err));
      assert.equal(err.code, 'MODEL_NOT_FOUND');
      assert.match(err.userMessage, /lookalike models fetch/);
      assert.match(err.userMessage, /npm run setup/);
      return true;
    });
  });

  it('GIVEN the shared untrained models THEN they verify, say untrained, and give finite unit-norm vectors', async () => {
    const dir = await ensureUntrainedModels();
    const m = await readManifest(dir, { verify: true });
    assert.equal(m.source, 'untrained');
    assert.equal(m.seed, UNTRAINED_TEST_SEED);
    const info = weightsInfo(m);
    assert.equal(info.untrained, true);
    assert.match(info.description, /not meaningful/);
    const [v] = await runOnnx(dir, [syntheticImage(3)]);
    assert.ok(v);
    assert.ok(v.every((x) => Number.isFinite(x)));
    assert.ok(Math.abs(norm(v) - 1) < 1e-5);
  });

  it('GIVEN a tampered shard or a missing file THEN MODEL_INVALID', async () => {
    const dir = join(work, 'tampered');
    await convertWeightsFile({ h5Path: legacyH5, modelsDir: dir });
    const m = await readManifest(dir, { verify: true });
    const shard = m.files.tfjs.shards[2];
    assert.ok(shard);
    const p = join(dir, 'tfjs', shard.path);
    const bytes = await readFile(p);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(p, bytes);
    await readManifest(dir); // existence-only check still passes
    await assert.rejects(readManifest(dir, { verify: true }), (err: unknown) => {
      assert.ok(isLookalikeError(err));
      assert.equal(err.code, 'MODEL_INVALID');
      assert.ok(err.message.includes(shard.path));
      return true;
    });
    await rm(join(dir, 'resnet50.onnx'));
    await assert.rejects(readManifest(dir), { code: 'MODEL_INVALID' });
  });
});
