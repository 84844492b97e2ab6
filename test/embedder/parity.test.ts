/**
 * The two runtimes (ONNX Runtime and tfjs on wasm) compute the same function: same untrained
 * ResNet50 files, 20 varied images, max |Δ| ≤ 1e-4 per component, unit norm everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { ensureUntrainedModels } from '../helpers/models.js';
import { type NamedImage, variedImages } from './fixtures.js';

let onnx: ImageEmbedder;
let tfjs: ImageEmbedder;
let images: NamedImage[];

before(async () => {
  const modelsDir = await ensureUntrainedModels();
  images = await variedImages();
  onnx = await createEmbedder({ modelsDir, runtime: 'onnx', batchSize: 8 });
  tfjs = await createEmbedder({ modelsDir, runtime: 'tfjs', batchSize: 4 });
});

after(async () => {
  await onnx?.dispose();
  await tfjs?.dispose();
});

test('GIVEN the tfjs runtime THEN it runs on a real backend (tfjs-node or wasm), never the pure-JS cpu one', () => {
  assert.equal(tfjs.runtime, 'tfjs');
  assert.match(tfjs.runtimeDetail, /\((tensorflow|wasm) backend\)/);
  assert.equal(onnx.runtime, 'onnx');
  assert.match(onnx.runtimeDetail, /onnxruntime-node/);
});

test('GIVEN 20 varied images THEN onnx and tfjs agree within 1e-4 per component and every vector has unit norm', async (t) => {
  assert.equal(images.length, 20);
  const inputs = images.map((i) => i.bytes);
  const [a, b] = await Promise.all([onnx.embed(inputs), tfjs.embed(inputs)]);
  let worst = 0;
  for (let i = 0; i < images.length; i++) {
    const va = a[i] as Float32Array;
    const vb = b[i] as Float32Array;
    assert.equal(va.length, 2048);
    assert.equal(vb.length, 2048);
    let na = 0;
    let nb = 0;
    let diff = 0;
    for (let j = 0; j < 2048; j++) {
      const x = va[j] ?? Number.NaN;
      const y = vb[j] ?? Number.NaN;
      na += x * x;
      nb += y * y;
      diff = Math.max(diff, Math.abs(x - y));
    }
    const name = images[i]?.name;
    assert.ok(Math.abs(Math.sqrt(na) - 1) < 1e-5, `${name}: onnx norm ${Math.sqrt(na)}`);
    assert.ok(Math.abs(Math.sqrt(nb) - 1) < 1e-5, `${name}: tfjs norm ${Math.sqrt(nb)}`);
    assert.ok(diff <= 1e-4, `${name}: max |Δ| ${diff}`);
    worst = Math.max(worst, diff);
  }
  // Sanity: the images are not all alike (the model is untrained but not degenerate).
  let spread = 0;
  for (let j = 0; j < 2048; j++) spread = Math.max(spread, Math.abs((a[0]?.[j] ?? 0) - (a[7]?.[j] ?? 0)));
  assert.ok(spread > 1e-3, `vectors of different images differ (spread ${spread})`);
  t.diagnostic(`worst |Δ| onnx vs tfjs: ${worst.toExponential(2)}`);
});
