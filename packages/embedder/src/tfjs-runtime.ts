/**
 * The TensorFlow.js runtime: the LayersModel in `<modelsDir>/tfjs/` on the tfjs-node backend
 * when `@tensorflow/tfjs-node` is installed (optional peer dependency), otherwise on
 * @tensorflow/tfjs-backend-wasm (SIMD, single-threaded in Node). The pure-JS `cpu` backend is
 * never used for inference: if neither backend initialises, RUNTIME_UNAVAILABLE.
 *
 * tfjs keeps one global engine per process: the backend is chosen once and shared by every
 * tfjs embedder in the process.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type Logger, LookalikeError } from '@lookalike/core';
import * as tf from '@tensorflow/tfjs';
import { EMBEDDING_DIM, INPUT_LENGTH, INPUT_SIZE, type InferenceRuntime, normalizedRows } from './runtime.js';

export type TfjsBackendName = 'tensorflow' | 'wasm';

let backendPromise: Promise<TfjsBackendName> | undefined;

async function tryTfjsNode(logger: Logger): Promise<boolean> {
  // A variable specifier keeps TypeScript (and bundlers) from requiring the optional package.
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'tfjs-node not available; using the wasm backend');
    return false;
  }
  try {
    return await tf.setBackend('tensorflow');
  } catch (err) {
    logger.warn({ err }, 'tfjs-node is installed but its backend failed to initialise; using wasm');
    return false;
  }
}

async function initWasm(): Promise<boolean> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  // The .wasm binaries sit in the package's dist dir; Node's Emscripten loader reads them by path.
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  // Threads need cross-origin-isolated workers; in Node use the SIMD single-thread build.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setWasmPaths(`${dist}/`);
  return tf.setBackend('wasm');
}

/** Chooses (once per process) tfjs-node, else wasm. Never the pure-JS cpu backend. */
export function selectTfjsBackend(logger: Logger): Promise<TfjsBackendName> {
  backendPromise ??= (async (): Promise<TfjsBackendName> => {
    if (await tryTfjsNode(logger)) {
      await tf.ready();
      return 'tensorflow';
    }
    let ok = false;
    let cause: unknown;
    try {
      ok = await initWasm();
    } catch (err) {
      cause = err;
    }
    if (!ok || tf.getBackend() !== 'wasm') {
      throw new LookalikeError(
        'RUNTIME_UNAVAILABLE',
        'the tfjs runtime needs @tensorflow/tfjs-node or @tensorflow/tfjs-backend-wasm; neither initialised (the pure-JS cpu backend is too slow for ResNet50)',
        { cause },
      );
    }
    await tf.ready();
    return 'wasm';
  })();
  // A failed attempt may be retried by a later caller.
  backendPromise.catch(() => {
    backendPromise = undefined;
  });
  return backendPromise;
}

/** What the embedder read from `<modelsDir>/tfjs/`. */
export interface TfjsModelFiles {
  /** Parsed model.json. */
  modelJson: unknown;
  /** Shard bytes in weightsManifest order. */
  shards: Uint8Array[];
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

function asModelJson(x: unknown): ModelJson {
  const m = x as Partial<ModelJson> | null;
  if (m === null || typeof m !== 'object' || typeof m.modelTopology !== 'object' || !Array.isArray(m.weightsManifest)) {
    throw new LookalikeError('MODEL_INVALID', 'tfjs model.json lacks modelTopology or weightsManifest');
  }
  return m as ModelJson;
}

/** Shard paths of a model.json, in the order its weights are laid out. */
export function tfjsShardPaths(modelJson: unknown): string[] {
  return asModelJson(modelJson).weightsManifest.flatMap((g) => g.paths);
}

/** An in-memory IOHandler (tf.io.fileSystem exists only in tfjs-node). */
function memoryHandler(files: TfjsModelFiles): tf.io.IOHandler {
  const json = asModelJson(files.modelJson);
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const total = files.shards.reduce((s, b) => s + b.byteLength, 0);
      const weightData = new Uint8Array(total);
      let off = 0;
      for (const s of files.shards) {
        weightData.set(s, off);
        off += s.byteLength;
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: weightData.buffer,
        format: json.format ?? 'layers-model',
        generatedBy: json.generatedBy ?? '',
        convertedBy: json.convertedBy ?? null,
      };
    },
  };
}

export interface TfjsRuntimeOptions {
  files: TfjsModelFiles;
  logger: Logger;
}

export async function createTfjsRuntime(options: TfjsRuntimeOptions): Promise<InferenceRuntime> {
  const backend = await selectTfjsBackend(options.logger);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(memoryHandler(options.files));
  } catch (cause) {
    if (cause instanceof LookalikeError) throw cause;
    throw new LookalikeError('MODEL_INVALID', `tfjs could not load model.json: ${(cause as Error).message}`, { cause });
  }
  const inShape = model.inputs[0]?.shape ?? [];
  const outShape = model.outputs[0]?.shape ?? [];
  if (
    model.inputs.length !== 1 ||
    model.outputs.length !== 1 ||
    inShape.slice(1).join(',') !== `${INPUT_SIZE},${INPUT_SIZE},3` ||
    outShape.slice(1).join(',') !== `${EMBEDDING_DIM}`
  ) {
    model.dispose();
    throw new LookalikeError(
      'MODEL_INVALID',
      `tfjs model must map [N,224,224,3] to [N,${EMBEDDING_DIM}], got [${inShape.join(',')}] → [${outShape.join(',')}]`,
    );
  }
  let disposed = false;

  return {
    name: 'tfjs',
    detail: `tfjs ${tf.version.tfjs} (${backend} backend)`,
    async run(batch: Float32Array, n: number): Promise<Float32Array[]> {
      if (disposed) throw new LookalikeError('INTERNAL', 'tfjs runtime used after dispose');
      // Another component (e.g. the weights converter) may have switched the global backend.
      if (tf.getBackend() !== backend) await tf.setBackend(backend);
      const view = batch.length === n * INPUT_LENGTH ? batch : batch.subarray(0, n * INPUT_LENGTH);
      let out: tf.Tensor | undefined;
      try {
        out = tf.tidy(() => model.predict(tf.tensor4d(view, [n, INPUT_SIZE, INPUT_SIZE, 3])) as tf.Tensor);
        if (out.shape.length !== 2 || out.shape[0] !== n || out.shape[1] !== EMBEDDING_DIM) {
          throw new LookalikeError('MODEL_INVALID', `tfjs output has shape [${out.shape.join(',')}]`);
        }
        // tfjs hands back one array for the whole batch: split it, one buffer per vector.
        return normalizedRows((await out.data()) as Float32Array, n);
      } catch (cause) {
        if (cause instanceof LookalikeError) throw cause;
        throw new LookalikeError('INTERNAL', `tfjs inference failed: ${(cause as Error).message}`, { cause });
      } finally {
        out?.dispose();
      }
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
