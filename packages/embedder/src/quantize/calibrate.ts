/**
 * Calibration: runs the fp32 model, with the planned activations as extra outputs, over the
 * calibration images on ONNX Runtime, and gathers one histogram per activation tensor.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ONNX_INPUT_NAME } from '../convert/onnx.js';
import { INPUT_LENGTH, INPUT_SIZE } from '../runtime.js';
import { calibrationModel, type Fp32Graph } from './graph.js';
import { TensorHistogram } from './histogram.js';

export interface CalibrateOptions {
  graph: Fp32Graph;
  /** Tensors to measure. */
  tensors: readonly string[];
  /** Preprocessed images (caffe NHWC, {@link INPUT_LENGTH} floats each). */
  images: readonly Float32Array[];
  /** Images per run (default 2: each image's activations are ~60 MB of floats). */
  batch?: number;
  threads?: number;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Histograms of every tensor over the calibration images. */
export async function calibrate(options: CalibrateOptions): Promise<Map<string, TensorHistogram>> {
  const batch = Math.max(1, options.batch ?? 2);
  const session = await ort.InferenceSession.create(calibrationModel(options.graph, options.tensors), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Math.max(1, options.threads ?? availableParallelism()),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const histograms = new Map(options.tensors.map((t) => [t, new TensorHistogram()]));
  try {
    const total = options.images.length;
    for (let start = 0; start < total; start += batch) {
      const chunk = options.images.slice(start, start + batch);
      const input = new Float32Array(chunk.length * INPUT_LENGTH);
      for (let i = 0; i < chunk.length; i++) {
        input.set(chunk[i] as Float32Array, i * INPUT_LENGTH);
      }
      const feed = { [ONNX_INPUT_NAME]: new ort.Tensor('float32', input, [chunk.length, INPUT_SIZE, INPUT_SIZE, 3]) };
      const outputs = await session.run(feed, [...options.tensors]);
      try {
        for (const [name, h] of histograms) {
          const v = outputs[name];
          if (v === undefined || v.type !== 'float32') throw new Error(`calibration output ${name} is missing`);
          h.add(v.data as Float32Array);
        }
      } finally {
        for (const v of Object.values(outputs)) v.dispose();
      }
      options.onProgress?.(Math.min(total, start + batch), total);
    }
  } finally {
    await session.release();
  }
  return histograms;
}
