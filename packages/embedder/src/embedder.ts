/**
 * `createEmbedder`: reads `<modelsDir>/manifest.json`, starts the worker threads (one decode
 * worker, `workers` inference workers that load and checksum the model files and warm up), and
 * returns an `ImageEmbedder`. The main thread only moves bytes in and vectors out (pool.ts).
 *
 * Concurrency: any number of callers may call `embed` at once. Every image is its own request:
 * a bad image rejects only its own caller. Interactive requests always go ahead of batch ones;
 * an interactive image waits for at most the one batch slice (`batchSliceSize` images) already
 * on the model. ORT intra-op threads × inference workers ≤ cores.
 */
import { availableParallelism } from 'node:os';
import {
  type Embedder,
  type EmbedOptions,
  type ImageInput,
  type Logger,
  LookalikeError,
  silentLogger,
  type WeightsInfo,
} from '@lookalike/core';
import { EmbedderPool, type EmbedderStats } from './pool.js';
import { type PreprocessOptions, type ResizeMode, resolvePreprocessOptions } from './preprocess-options.js';
import type { CrashMode } from './protocol.js';
import { EMBEDDING_DIM, type RuntimeName } from './runtime.js';
import { type Precision, readManifest, weightsInfo } from './weights/manifest.js';

/** The line logged (once per embedder) when untrained weights are loaded. */
export const UNTRAINED_LOG_LINE = 'untrained weights: results are not meaningful';

export interface EmbedderOptions {
  /** Directory holding manifest.json, resnet50.onnx and tfjs/. */
  modelsDir: string;
  /** `onnx` (default) or `tfjs`. */
  runtime?: RuntimeName;
  /**
   * `fp32` (default) or `int8`: the static-quantized model `lookalike models quantize` wrote
   * (onnx runtime only). Its vectors are a different model to the catalog.
   */
  precision?: Precision;
  /** Largest inference batch; interactive requests are coalesced up to it (default 8). */
  batchSize?: number;
  /**
   * Largest batch of `batch` (catalog) work, default 4 (capped at batchSize). An interactive
   * request waits for at most one such slice, so this bounds its wait.
   */
  batchSliceSize?: number;
  /** Inference worker threads (default 1, at most the number of cores). */
  workers?: number;
  /**
   * ORT intra-op threads per inference worker; 0 or undefined = cores ÷ workers. Capped so that
   * threads × workers ≤ cores. Ignored by tfjs (its wasm backend is single-threaded).
   */
  threads?: number;
  /** `stretch` (default, seed behaviour) or `pad`. */
  resize?: ResizeMode;
  /** Apply EXIF orientation (default true). */
  exif?: boolean;
  /** Pixel limit checked from the header (default: core's DEFAULT_IMAGE_LIMITS). */
  maxPixels?: number;
  /** Byte limit (default: core's DEFAULT_IMAGE_LIMITS). */
  maxBytes?: number;
  /**
   * Images decoded at once in the decode worker (default max(2, cores ÷ 2)). sharp decodes on
   * the process-wide libuv pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), so this
   * leaves threads free for the rest of the process.
   */
  preprocessConcurrency?: number;
  /**
   * Images per class handed to the workers at once (decoding, decoded and waiting, or on the
   * model); the rest wait on the main thread undecoded, so memory stays bounded. Default
   * 2 × batchSize × workers.
   */
  maxInFlight?: number;
  /** Let ORT's pool threads spin between ops (default false: measured no faster here). */
  spinning?: boolean;
  /** Run one dummy inference at load (default true). */
  warmup?: boolean;
  /**
   * Log the one warn line about untrained weights (default true). The CLI turns it off and
   * prints its own single stderr line instead.
   */
  warnUntrained?: boolean;
  logger?: Logger;
}

/** Test hooks, reached through the {@link EMBEDDER_TEST_HOOKS} symbol. */
export interface EmbedderTestHooks {
  /** Makes a worker die (exit at once, or throw an uncaught error) to test recovery. */
  crashWorker(kind: 'decode' | 'inference', mode?: CrashMode, index?: number): void;
}

/** Key of an embedder's {@link EmbedderTestHooks}; not for production code. */
export const EMBEDDER_TEST_HOOKS: unique symbol = Symbol('lookalike.embedder.testHooks');

/** The core `Embedder` port plus what operators and tests look at. */
export interface ImageEmbedder extends Embedder {
  /** Effective preprocessing settings (part of what the vectors depend on). */
  readonly preprocessing: Readonly<Required<PreprocessOptions>>;
  /** Runtime detail, e.g. "onnxruntime-node 1.30.0 (cpu, 2 intra-op threads), 1 inference worker". */
  readonly runtimeDetail: string;
  /** A snapshot of queue depth per class, images on the model, and counters since load. */
  readonly stats: Readonly<EmbedderStats>;
  /**
   * Embeds each input (bytes or a path) as `options.priority` ('interactive' by default).
   * Rejects with the first bad input's LookalikeError; bytes are copied, never detached.
   */
  embed(inputs: readonly ImageInput[], options?: EmbedOptions): Promise<Float32Array[]>;
  readonly [EMBEDDER_TEST_HOOKS]: EmbedderTestHooks;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new LookalikeError('CONFIG_INVALID', `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Loads the model in worker threads and returns a ready embedder. */
export async function createEmbedder(options: EmbedderOptions): Promise<ImageEmbedder> {
  const started = performance.now();
  const runtimeName: RuntimeName = options.runtime ?? 'onnx';
  const cores = availableParallelism();
  const batchSize = positiveInt('batchSize', options.batchSize ?? 8);
  const batchSliceSize = Math.min(batchSize, positiveInt('batchSliceSize', options.batchSliceSize ?? 4));
  const workers = Math.min(cores, positiveInt('workers', options.workers ?? 1));
  const perWorker = Math.max(1, Math.floor(cores / workers));
  const threads =
    options.threads === undefined || options.threads <= 0 ? perWorker : Math.min(options.threads, perWorker);
  const preprocessing = resolvePreprocessOptions(options);
  const logger = (options.logger ?? silentLogger).child({ component: 'embedder', runtime: runtimeName });
  const modelsDir = options.modelsDir;

  const precision: Precision = options.precision ?? 'fp32';
  if (precision === 'int8' && runtimeName !== 'onnx') {
    throw new LookalikeError('CONFIG_INVALID', `precision int8 needs the onnx runtime, not ${runtimeName}`, {
      details: { precision, runtime: runtimeName },
    });
  }
  const manifest = await readManifest(modelsDir);
  const weights: WeightsInfo = weightsInfo(manifest, precision);
  const pool = new EmbedderPool(
    {
      decode: {
        preprocessing,
        concurrency: positiveInt(
          'preprocessConcurrency',
          options.preprocessConcurrency ?? Math.max(2, Math.floor(cores / 2)),
        ),
      },
      inference: {
        modelsDir,
        manifest,
        runtime: runtimeName,
        precision,
        threads,
        spinning: options.spinning ?? false,
        warmup: options.warmup ?? true,
        batchSize,
        batchSliceSize,
      },
      workers,
      maxInFlight: positiveInt('maxInFlight', options.maxInFlight ?? 2 * batchSize * workers),
      preprocessing,
    },
    logger,
  );
  await pool.start();
  const runtimeDetail = `${pool.detail}${precision === 'int8' ? ', int8' : ''}, ${workers} inference worker${workers === 1 ? '' : 's'}`;

  logger.debug(
    {
      modelsDir,
      runtimeDetail,
      batchSize,
      batchSliceSize,
      workers,
      threads: runtimeName === 'onnx' ? threads : undefined,
      weights: weights.description,
      loadMs: Math.round(performance.now() - started),
    },
    'embedder ready',
  );
  if (weights.untrained && (options.warnUntrained ?? true))
    logger.warn({ weights: weights.description }, UNTRAINED_LOG_LINE);

  return {
    dimension: EMBEDDING_DIM,
    runtime: runtimeName,
    weights,
    preprocessing,
    runtimeDetail,
    get stats() {
      return pool.stats;
    },
    embed: (inputs, embedOptions) => pool.embed(inputs, embedOptions?.priority ?? 'interactive'),
    async dispose(): Promise<void> {
      await pool.close();
      logger.debug({ stats: pool.stats }, 'embedder disposed');
    },
    [EMBEDDER_TEST_HOOKS]: {
      crashWorker: (kind, mode = 'exit', index = 0) => pool.crash(kind, mode, index),
    },
  };
}
