/**
 * The weights pipeline: Keras-layout HDF5 (current and legacy names; Keras 2 and Keras 1
 * layouts) → validated weights → resnet50.onnx + tfjs + manifest.json, checked against an
 * independent float64 Keras reference at each scheme's batch-norm epsilon.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLookalikeError, LookalikeError } from '@lookalike/core';
import {
  BN_EPSILON_CURRENT,
  BN_EPSILON_LEGACY,
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
  type WeightRole,
  weightNameStyle,
  weightsInfo,
  writeKerasWeights,
} from '@lookalike/embedder';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import * as ort from 'onnxruntime-node';
import {
  KERAS_EPSILON_CURRENT,
  KERAS_EPSILON_LEGACY,
  kerasReferenceEmbedding,
  readReferenceWeights,
} from '../helpers/keras-reference.js';
import {
  ensureUntrainedModels,
  legacyLayerName,
  TEST_TMP_DIR,
  UNTRAINED_TEST_SEED,
  writeKeras1Weights,
} from '../helpers/models.js';

const SEED = 20261129;
/**
 * A quarter of every batch norm's channels get variances in [1e-4, 1e-2] (γ scaled by √var), as
 * trained weights have, so that the two batch-norm epsilons give visibly different vectors.
 */
const SMALL_VARIANCE_FRACTION = 0.25;
const work = join(TEST_TMP_DIR, `weights-test-${process.pid}`);
const currentH5 = join(work, 'current.h5');
/** Legacy layer names in the Keras 2 layout (what a Keras 2 `save_weights` of that model writes). */
const legacyH5 = join(work, 'legacy.h5');
/** Legacy layer names in the Keras 1 layout, like the fchollet v0.2 file. */
const keras1H5 = join(work, 'keras1.h5');
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
  weights = createUntrainedWeights(SEED, { smallVarianceFraction: SMALL_VARIANCE_FRACTION });
  await writeKerasWeights(currentH5, weights, { scheme: 'current', strings: 'fixed' });
  await writeKerasWeights(legacyH5, weights, { scheme: 'legacy', strings: 'vlen' });
  await writeKeras1Weights(keras1H5, weights);
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
    const again = createUntrainedWeights(SEED, { smallVarianceFraction: SMALL_VARIANCE_FRACTION });
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
    const plain = createUntrainedWeights(SEED).units.get(u.id);
    assert.ok(plain);
    for (const v of plain.movingVariance) assert.ok(v >= 0.8 && v <= 1.2);
    for (const g of plain.gamma) assert.ok(g >= 0.8 && g <= 1.2);
  });

  it('GIVEN smallVarianceFraction THEN every batch norm has some channels with variances in [1e-4, 1e-2], the rest tame', () => {
    let small = 0;
    let total = 0;
    for (const u of CONV_UNITS) {
      const w = weights.units.get(u.id);
      assert.ok(w);
      let here = 0;
      w.movingVariance.forEach((v, o) => {
        const g = w.gamma[o] as number;
        if (v < 0.5) {
          assert.ok(v >= 1e-4 && v <= 1e-2, `${u.id} variance ${v}`);
          assert.ok(g / Math.sqrt(v) >= 0.8 && g / Math.sqrt(v) <= 1.2, `${u.id} γ/√var ${g / Math.sqrt(v)}`);
          here++;
        } else {
          assert.ok(v >= 0.8 && v <= 1.2 && g >= 0.8 && g <= 1.2, `${u.id} channel ${o}`);
        }
      });
      assert.ok(here > 0, `${u.id} has small-variance channels`);
      small += here;
      total += w.movingVariance.length;
    }
    assert.ok(Math.abs(small / total - SMALL_VARIANCE_FRACTION) < 0.02, `fraction ${small / total}`);
  });

  it('GIVEN the naming schemes THEN the batch-norm epsilon is 1.001e-5 for current names and 1e-3 for legacy ones', () => {
    assert.equal(BN_EPSILON_CURRENT, 1.001e-5);
    assert.equal(BN_EPSILON_LEGACY, 1e-3);
    assert.equal(KERAS_EPSILON_CURRENT, BN_EPSILON_CURRENT);
    assert.equal(KERAS_EPSILON_LEGACY, BN_EPSILON_LEGACY);
  });
});

describe('HDF5 loader', () => {
  for (const [scheme, keras, path, strings, epsilon] of [
    ['current', 2, currentH5, 'fixed-length', 1.001e-5],
    ['legacy', 2, legacyH5, 'vlen', 1e-3],
    ['legacy', 1, keras1H5, 'fixed-length ASCII', 1e-3],
  ] as const) {
    it(`GIVEN a Keras ${keras} HDF5 file with ${scheme} layer names (${strings} strings) THEN every weight loads unchanged, with ε ${epsilon}`, async () => {
      const loaded = await readKerasWeights(path);
      assert.equal(loaded.scheme, scheme);
      assert.equal(loaded.kerasFormat, keras);
      assert.equal(loaded.batchNormEpsilon, epsilon);
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

  it('GIVEN the Keras 1 fixture THEN it is laid out like the fchollet v0.2 file', async () => {
    await h5wasm.ready;
    const f = new h5wasm.File(keras1H5, 'r');
    try {
      assert.deepEqual(Object.keys(f.attrs), ['layer_names'], 'no backend, no keras_version');
      const ln = f.attrs.layer_names;
      assert.ok(ln);
      assert.equal(ln.metadata.vlen, false);
      assert.equal(ln.metadata.cset, 0, 'ASCII');
      const names = (ln.value as string[]).map(String);
      assert.equal(names[0], 'input_1');
      assert.ok(names.includes('zeropadding2d_1') && names.includes('maxpooling2d_1') && names.includes('merge_16'));
      assert.equal(names.at(-1), 'avg_pool');
      assert.ok(!names.includes('conv1_conv') && !names.includes('conv1_pad'));
      const avg = f.get('avg_pool');
      assert.ok(avg instanceof h5wasm.Group);
      const empty = avg.attrs.weight_names;
      assert.ok(empty, 'weightless layers still have weight_names');
      assert.equal((empty.value as ArrayLike<unknown>).length, 0);
      const bn = f.get('bn_conv1');
      assert.ok(bn instanceof h5wasm.Group);
      const wn = bn.attrs.weight_names;
      assert.ok(wn);
      assert.equal(wn.metadata.vlen, false);
      assert.equal(wn.metadata.cset, 0);
      assert.deepEqual(wn.value, [
        'bn_conv1_gamma:0',
        'bn_conv1_beta:0',
        'bn_conv1_running_mean:0',
        'bn_conv1_running_std:0',
      ]);
      assert.deepEqual(bn.keys().sort(), [...(wn.value as string[])].sort(), 'datasets sit in the layer group');
      const kernel = f.get('conv1/conv1_W:0');
      assert.ok(kernel instanceof h5wasm.Dataset);
      assert.deepEqual(kernel.shape, [7, 7, 3, 64]);
      assert.ok(f.get('res2a_branch1/res2a_branch1_b:0') instanceof h5wasm.Dataset);
      const std = f.get('bn_conv1/bn_conv1_running_std:0');
      assert.ok(std instanceof h5wasm.Dataset);
      const variance = weights.units.get('conv1')?.movingVariance;
      assert.ok(variance);
      assert.ok(bytesEqual(std.value as Float32Array, variance), 'running_std holds the variance');
    } finally {
      f.close();
    }
  });

  it('GIVEN weight names in Keras 1 and Keras 2 style THEN each suffix is checked against its role', () => {
    const cases: [string, WeightRole, 1 | 2 | undefined][] = [
      ['conv1_conv/kernel:0', 'kernel', 2],
      ['res2a_branch2a/kernel:0', 'kernel', 2],
      ['conv1_W:0', 'kernel', 1],
      ['conv1_W', 'kernel', 1],
      ['conv1_b:0', 'bias', 1],
      ['conv1_conv/bias:0', 'bias', 2],
      ['bn_conv1_gamma:0', 'gamma', 1],
      ['bn_conv1_beta:0', 'beta', 1],
      ['bn_conv1_running_mean:0', 'moving_mean', 1],
      ['conv1_bn/moving_mean:0', 'moving_mean', 2],
      ['bn_conv1_running_std:0', 'moving_variance', 1],
      ['conv1_bn/moving_variance:0', 'moving_variance', 2],
      ['conv1_b:0', 'kernel', undefined],
      ['conv1_W:0', 'bias', undefined],
      ['bn_conv1_beta:0', 'bias', undefined],
      ['bn_conv1_running_std:0', 'moving_mean', undefined],
      ['bn_conv1_running_mean:0', 'moving_variance', undefined],
      ['conv1_bn/moving_variance:0', 'gamma', undefined],
      ['param_0', 'kernel', undefined],
    ];
    for (const [name, role, style] of cases) assert.equal(weightNameStyle(name, role), style, `${name} as ${role}`);
  });

  it('GIVEN a Keras 1 file whose weight_names put running_std before running_mean THEN the error names the layer and the weight', async () => {
    const path = join(work, 'keras1-swapped.h5');
    await writeKeras1Weights(path, weights, {
      weightNames: (layer, names) =>
        layer === 'bn3c_branch2b' ? [names[0], names[1], names[3], names[2]].map(String) : names,
    });
    await assert.rejects(readKerasWeights(path), (err: unknown) => {
      assert.ok(isLookalikeError(err));
      assert.equal(err.code, 'WEIGHTS_INVALID');
      assert.equal(err.details.layer, 'bn3c_branch2b');
      assert.equal(err.details.reason, 'weight-name');
      assert.equal(err.details.weight, 'bn3c_branch2b_running_std:0');
      assert.equal(err.details.role, 'moving_mean');
      assert.match(err.message, /running_mean/);
      return true;
    });
  });

  it('GIVEN a Keras 1 file with the bias listed first THEN the kernel check names the layer', async () => {
    const path = join(work, 'keras1-bias-first.h5');
    await writeKeras1Weights(path, weights, {
      weightNames: (layer, names) => (layer === 'res4d_branch2c' ? [...names].reverse() : names),
    });
    await expectWeightsInvalid(path, 'res4d_branch2c', 'res4d_branch2c_b:0', 'kernel');
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
  const keras1Dir = join(work, 'models-keras1');
  const images = [syntheticImage(1), syntheticImage(2)];
  let current: Manifest;
  let keras1: Manifest;
  /** The float64 reference on the Keras 1 file's weights at ε 1e-3 and at ε 1.001e-5. */
  let referenceLegacy: Float64Array;
  let referenceCurrent: Float64Array;

  before(async () => {
    current = (await convertWeightsFile({ h5Path: currentH5, modelsDir: currentDir })).manifest;
    await convertWeightsFile({ h5Path: legacyH5, modelsDir: legacyDir });
    const converted = await convertWeightsFile({ h5Path: keras1H5, modelsDir: keras1Dir });
    assert.equal(converted.kerasFormat, 1);
    keras1 = converted.manifest;
    const layers = await readReferenceWeights(keras1H5);
    referenceLegacy = kerasReferenceEmbedding(layers, images[0] as Float32Array, KERAS_EPSILON_LEGACY);
    referenceCurrent = kerasReferenceEmbedding(layers, images[0] as Float32Array, KERAS_EPSILON_CURRENT);
  });

  it('GIVEN the Keras 1 and the Keras 2 file of the same weights THEN the reference reads the same arrays from both', async () => {
    const fromKeras1 = await readReferenceWeights(keras1H5);
    const fromCurrent = await readReferenceWeights(currentH5);
    assert.equal(fromCurrent.size, 106);
    assert.equal(fromKeras1.size, 106);
    for (const [name, arrays] of fromCurrent) {
      const other = fromKeras1.get(legacyLayerName(name));
      assert.ok(other, name);
      assert.equal(other.length, arrays.length, name);
      arrays.forEach((a, i) => {
        assert.equal(maxAbsDiff(a, other[i] as Float64Array), 0, `${name} weight ${i}`);
      });
    }
  });

  it('GIVEN the two batch-norm epsilons THEN the float64 reference gives different vectors', (t) => {
    assert.ok(Math.abs(norm(referenceLegacy) - 1) < 1e-12);
    assert.ok(Math.abs(norm(referenceCurrent) - 1) < 1e-12);
    const d = maxAbsDiff(referenceLegacy, referenceCurrent);
    t.diagnostic(`reference ε 1e-3 vs ε 1.001e-5: max |Δ| = ${d.toExponential(3)}`);
    assert.ok(d > 1e-2, `ε 1e-3 vs ε 1.001e-5: max |Δ| = ${d}, should be far above the 1e-4 tolerance`);
  });

  it('GIVEN the Keras 1 fixture THEN it converts and the ONNX model matches the float64 reference at ε 1e-3 within 1e-4', async (t) => {
    const [k0] = await runOnnx(keras1Dir, images);
    assert.ok(k0);
    const d = maxAbsDiff(referenceLegacy, k0);
    assert.ok(d <= 1e-4, `ONNX (Keras 1 file) vs Keras reference at ε 1e-3: max |Δ| = ${d}`);
    const wrong = maxAbsDiff(referenceCurrent, k0);
    t.diagnostic(`ONNX (Keras 1) vs reference: ε 1e-3 ${d.toExponential(3)}, ε 1.001e-5 ${wrong.toExponential(3)}`);
    assert.ok(wrong > 1e-2, `ONNX (Keras 1 file) vs reference at ε 1.001e-5: max |Δ| = ${wrong}`);
    assert.equal(keras1.batchNormEpsilon, 1e-3);
    assert.deepEqual(keras1.sourceLayout, { names: 'legacy', keras: 1 });
    assert.deepEqual((await readManifest(keras1Dir, { verify: true })).batchNormEpsilon, 1e-3);
  });

  it("GIVEN a converted file THEN the ONNX model equals the float64 Keras reference within 1e-4 at its scheme's ε", async () => {
    const fromCurrent = await runOnnx(currentDir, images);
    const fromLegacy = await runOnnx(legacyDir, images);
    const fromKeras1 = await runOnnx(keras1Dir, images);
    const [c0, c1] = fromCurrent;
    const [l0, l1] = fromLegacy;
    const [, k1] = fromKeras1;
    assert.ok(c0 && c1 && l0 && l1 && k1);
    const d = maxAbsDiff(referenceCurrent, c0);
    assert.ok(d <= 1e-4, `ONNX (current names) vs Keras reference at ε 1.001e-5: max |Δ| = ${d}`);
    const dl = maxAbsDiff(referenceLegacy, l0);
    assert.ok(dl <= 1e-4, `ONNX (legacy names, Keras 2 layout) vs Keras reference at ε 1e-3: max |Δ| = ${dl}`);
    // The second image of the batch is a different picture with its own unit-norm vector.
    assert.ok(Math.abs(norm(c1) - 1) < 1e-5);
    assert.ok(maxAbsDiff(c0, c1) > 1e-3, 'different images give different vectors');
    // Legacy names give the same model in either file layout, and a different one from current names.
    assert.ok(maxAbsDiff(l1, k1) <= 1e-6);
    assert.ok(maxAbsDiff(c1, l1) > 1e-2);
    assert.equal(current.batchNormEpsilon, 1.001e-5);
    assert.deepEqual(current.sourceLayout, { names: 'current', keras: 2 });
  });

  it('GIVEN the tfjs exports THEN they are folded with the same ε as the ONNX model', async () => {
    const shards = async (dir: string): Promise<Buffer> => {
      const m = await readManifest(dir);
      return Buffer.concat(await Promise.all(m.files.tfjs.shards.map((s) => readFile(join(dir, 'tfjs', s.path)))));
    };
    const [c, l, k] = await Promise.all([shards(currentDir), shards(legacyDir), shards(keras1Dir)]);
    assert.ok(l.equals(k), 'legacy names: same folded weights from the Keras 2 and the Keras 1 file');
    assert.ok(!c.equals(l), 'current names are folded with another ε');
  });

  it('GIVEN a manifest written before batchNormEpsilon existed THEN it reads as 1.001e-5', async () => {
    const dir = join(work, 'old-manifest');
    await mkdir(dir, { recursive: true });
    await symlink(join(currentDir, 'resnet50.onnx'), join(dir, 'resnet50.onnx'));
    await symlink(join(currentDir, 'tfjs'), join(dir, 'tfjs'));
    const { batchNormEpsilon: _, sourceLayout: __, ...old } = current;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(old));
    const m = await readManifest(dir);
    assert.equal(m.batchNormEpsilon, 1.001e-5);
    assert.equal(m.sourceLayout, undefined);
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
