/**
 * TensorFlow.js export: the Keras graph rebuilt with the tfjs layers API (batch norm folded into
 * the convs), saved as a standard LayersModel (model.json + ≤ 4 MB weight shards).
 * Output is the GlobalMaxPool vector [N,2048] without L2 norm (the runtime applies it).
 * Uses the pure-JS cpu backend for construction only; no inference here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BLOCKS, BN_EPSILON_CURRENT, type ConvUnitSpec, MODEL_ID, STEM } from '../weights/layout.js';
import type { ResNet50Weights } from '../weights/types.js';
import { foldUnit } from './fold.js';

/** Maximum bytes per weight shard. */
export const TFJS_SHARD_BYTES = 4 * 1024 * 1024;
export const TFJS_MODEL_FILE = 'model.json';

export interface TfjsExportResult {
  /** model.json path relative to the output dir. */
  modelPath: string;
  /** Shard paths relative to the output dir, in manifest order. */
  shardPaths: string[];
}

type SymbolicTensor = tf.SymbolicTensor;

function buildGraph(weights: ResNet50Weights, epsilon: number): { model: tf.LayersModel; assign: () => void } {
  const assignments: { layer: tf.layers.Layer; unit: ConvUnitSpec }[] = [];
  const apply = (layer: tf.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor =>
    layer.apply(x) as SymbolicTensor;
  const conv = (u: ConvUnitSpec, x: SymbolicTensor): SymbolicTensor => {
    const layer = tf.layers.conv2d({
      name: u.convName,
      filters: u.outChannels,
      kernelSize: u.kernel,
      strides: u.stride,
      padding: u.kernel === 1 || u.id === STEM.id ? 'valid' : 'same',
      useBias: true,
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
    });
    assignments.push({ layer, unit: u });
    return apply(layer, x);
  };
  const relu = (x: SymbolicTensor, name: string): SymbolicTensor => apply(tf.layers.reLU({ name }), x);

  const input = tf.input({ shape: [224, 224, 3], name: 'input', dtype: 'float32' });
  let x = apply(tf.layers.zeroPadding2d({ padding: STEM.pad, name: 'conv1_pad' }), input);
  x = relu(conv(STEM, x), 'conv1_relu');
  x = apply(tf.layers.zeroPadding2d({ padding: 1, name: 'pool1_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pool1_pool' }), x);
  for (const b of BLOCKS) {
    const shortcut = b.shortcut === undefined ? x : conv(b.shortcut, x);
    let h = relu(conv(b.reduce, x), `${b.prefix}_1_relu`);
    h = relu(conv(b.spatial, h), `${b.prefix}_2_relu`);
    h = conv(b.expand, h);
    x = apply(tf.layers.add({ name: `${b.prefix}_add` }), [shortcut, h]);
    x = relu(x, `${b.prefix}_out`);
  }
  const output = apply(tf.layers.globalMaxPooling2d({ name: 'max_pool' }), x);
  const model = tf.model({ inputs: input, outputs: output, name: MODEL_ID });
  const assign = (): void => {
    for (const { layer, unit } of assignments) {
      const w = weights.units.get(unit.id);
      if (w === undefined) throw new Error(`tfjs export: no weights for ${unit.id}`);
      const folded = foldUnit(unit, w, epsilon);
      const k = tf.tensor4d(folded.kernelHwio, [unit.kernel, unit.kernel, unit.inChannels, unit.outChannels]);
      const b = tf.tensor1d(folded.bias);
      layer.setWeights([k, b]);
      k.dispose();
      b.dispose();
    }
  };
  return { model, assign };
}

export interface TfjsExportOptions {
  /**
   * Batch-norm epsilon folded into the convs.
   * @defaultValue {@link BN_EPSILON_CURRENT} (1.001e-5); legacy-named weights need 1e-3.
   */
  batchNormEpsilon?: number;
}

/** Writes `<outDir>/model.json` and its shards. */
export async function exportTfjsModel(
  weights: ResNet50Weights,
  outDir: string,
  options: TfjsExportOptions = {},
): Promise<TfjsExportResult> {
  const previous = tf.engine().backendName;
  // Silences the cpu backend's "install tfjs-node" banner; prod mode only skips debug checks.
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
  await mkdir(outDir, { recursive: true });
  let result: TfjsExportResult | undefined;
  const { model, assign } = buildGraph(weights, options.batchNormEpsilon ?? BN_EPSILON_CURRENT);
  try {
    assign();
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const data = artifacts.weightData;
        if (data === undefined || artifacts.weightSpecs === undefined || artifacts.modelTopology === undefined) {
          throw new Error('tfjs export: the model produced no weights');
        }
        const all = new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
        const count = Math.max(1, Math.ceil(all.byteLength / TFJS_SHARD_BYTES));
        const shardPaths: string[] = [];
        for (let i = 0; i < count; i++) {
          const name = `group1-shard${i + 1}of${count}.bin`;
          await writeFile(join(outDir, name), all.subarray(i * TFJS_SHARD_BYTES, (i + 1) * TFJS_SHARD_BYTES));
          shardPaths.push(name);
        }
        const modelJson = {
          format: 'layers-model',
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: 'lookalike weights converter',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: shardPaths, weights: artifacts.weightSpecs }],
        };
        await writeFile(join(outDir, TFJS_MODEL_FILE), JSON.stringify(modelJson));
        result = { modelPath: TFJS_MODEL_FILE, shardPaths };
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  } finally {
    model.dispose();
    if (previous !== null && previous !== undefined && previous !== 'cpu') {
      try {
        await tf.setBackend(previous);
      } catch {
        // The previous backend may have been disposed; leave cpu.
      }
    }
  }
  if (result === undefined) throw new Error('tfjs export: save handler did not run');
  return result;
}
