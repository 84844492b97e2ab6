/**
 * `createEmbedder`: loads the model files named by `<modelsDir>/manifest.json` (checking the
 * sha256 of every file it loads against the manifest), starts the chosen runtime, warms it up,
 * and returns an `ImageEmbedder`.
 *
 * Concurrency: any number of callers may call `embed`/`prepare` at once. Preprocessing runs
 * concurrently (sharp on libuv threads, bounded by `preprocessConcurrency`); inference
 * requests are coalesced into batches of up to `batchSize` and ONE batch runs at a time,
 * with ORT using `threads` intra-op threads (≤ cores). A bad image rejects only its own
 * caller's promise.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';
import {
  type Embedder,
  type ImageInput,
  type Logger,
  LookalikeError,
  silentLogger,
  type WeightsInfo,
} from '@lookalike/core';
import { type BatcherStats, InferenceBatcher } from './batcher.js';
import { Limiter } from './limiter.js';
import {
  INPUT_LENGTH,
  type PreprocessOptions,
  preprocessImage,
  type ResizeMode,
  resolvePreprocessOptions,
} from './preprocess.js';
import { EMBEDDING_DIM, type InferenceRuntime, type RuntimeName } from './runtime.js';
import { type Manifest, readManifest, weightsInfo } from './weights/manifest.js';

/** The line logged (once per embedder) when untrained weights are loaded. */
export const UNTRAINED_LOG_LINE = 'untrained weights: results are not meaningful';

export interface EmbedderOptions {
  /** Directory holding manifest.json, resnet50.onnx and tfjs/. */
  modelsDir: string;
  /** `onnx` (default) or `tfjs`. */
  runtime?: RuntimeName;
  /** Largest inference batch (default 8). */
  batchSize?: number;
  /** ORT intra-op threads; 0 or undefined = number of cores. Ignored by tfjs. */
  threads?: number;
  /** `stretch` (default, seed behaviour) or `pad`. */
  resize?: ResizeMode;
  /** Apply EXIF orientation (default true). */
  exif?: boolean;
  /** Pixel limit checked from the header (default 40 MP). */
  maxPixels?: number;
  /** Byte limit (default 20 MB). */
  maxBytes?: number;
  /** Images decoded at once (default 2 × cores, at least 4). */
  preprocessConcurrency?: number;
  /**
   * Images of `embed()` calls in flight (decoding, or decoded and waiting for inference) at
   * once; the rest wait undecoded, so memory stays bounded. Default 2 × batchSize.
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

/** The core `Embedder` port plus the lower-level pair the catalog reindex uses. */
export interface ImageEmbedder extends Embedder {
  /** Effective preprocessing settings (part of what the vectors depend on). */
  readonly preprocessing: Readonly<Required<PreprocessOptions>>;
  /** Runtime detail, e.g. "onnxruntime-node 1.30.0 (cpu, 2 intra-op threads)". */
  readonly runtimeDetail: string;
  /** Decodes and preprocesses one image → Float32Array(224·224·3), caffe NHWC. */
  prepare(input: ImageInput): Promise<Float32Array>;
  /** Embeds already-prepared tensors (batched with everyone else's). */
  embedPrepared(tensors: readonly Float32Array[]): Promise<Float32Array[]>;
  /** Inference counters since load (batches run, images embedded, largest batch). */
  readonly stats: Readonly<BatcherStats>;
}

function modelInvalid(modelsDir: string, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
  return new LookalikeError('MODEL_INVALID', `${message} (models dir ${modelsDir})`, {
    ...(cause === undefined ? {} : { cause }),
    details: { modelsDir, ...details },
    userMessage: `The model files in ${modelsDir} are damaged or incomplete. Run \`npx lookalike models fetch --force\` or \`npx lookalike models init --untrained --force\`.`,
  });
}

/** Reads a model file and checks its sha256 against the manifest (≈0.1 s per 94 MB). */
async function readVerified(modelsDir: string, rel: string, sha256: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(modelsDir, rel));
  } catch (cause) {
    throw modelInvalid(modelsDir, `cannot read model file ${rel}`, { file: rel }, cause);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw modelInvalid(modelsDir, `model file ${rel} has sha256 ${actual}, manifest says ${sha256}`, {
      file: rel,
      expected: sha256,
      actual,
    });
  }
  return bytes;
}

async function loadRuntime(
  manifest: Manifest,
  modelsDir: string,
  runtime: RuntimeName,
  threads: number,
  spinning: boolean,
  logger: Logger,
): Promise<InferenceRuntime> {
  // Each runtime's library is imported only when it is used.
  if (runtime === 'onnx') {
    const model = await readVerified(modelsDir, manifest.files.onnx.path, manifest.files.onnx.sha256);
    const { createOnnxRuntime } = await import('./onnx-runtime.js');
    return createOnnxRuntime({ model, threads, spinning });
  }
  const { createTfjsRuntime, tfjsShardPaths } = await import('./tfjs-runtime.js');
  const jsonRel = manifest.files.tfjs.path;
  const jsonBytes = await readVerified(modelsDir, jsonRel, manifest.files.tfjs.sha256);
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(Buffer.from(jsonBytes).toString('utf8'));
  } catch (cause) {
    throw modelInvalid(modelsDir, `${jsonRel} is not valid JSON`, { file: jsonRel }, cause);
  }
  const dir = posix.dirname(jsonRel.replaceAll('\\', '/'));
  const rel = (p: string): string => (dir === '.' ? p : posix.join(dir, p));
  const expected = new Map(manifest.files.tfjs.shards.map((s) => [rel(s.path), s.sha256]));
  const shards: Uint8Array[] = [];
  for (const p of tfjsShardPaths(modelJson)) {
    const shardRel = rel(p);
    const sha = expected.get(shardRel);
    if (sha === undefined) throw modelInvalid(modelsDir, `tfjs shard ${shardRel} is not listed in the manifest`);
    shards.push(await readVerified(modelsDir, shardRel, sha));
  }
  return createTfjsRuntime({ files: { modelJson, shards }, logger });
}

/** Loads the model and returns a ready embedder. */
export async function createEmbedder(options: EmbedderOptions): Promise<ImageEmbedder> {
  const started = performance.now();
  const runtimeName: RuntimeName = options.runtime ?? 'onnx';
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new LookalikeError('CONFIG_INVALID', `batchSize must be a positive integer, got ${batchSize}`);
  }
  const cores = availableParallelism();
  const threads = options.threads === undefined || options.threads <= 0 ? cores : Math.min(options.threads, cores);
  const preprocessing = resolvePreprocessOptions(options);
  const logger = (options.logger ?? silentLogger).child({ component: 'embedder', runtime: runtimeName });
  const modelsDir = options.modelsDir;

  const manifest = await readManifest(modelsDir);
  const weights: WeightsInfo = weightsInfo(manifest);
  const runtime = await loadRuntime(manifest, modelsDir, runtimeName, threads, options.spinning ?? false, logger);
  try {
    if (options.warmup ?? true) await runtime.run(new Float32Array(INPUT_LENGTH), 1);
  } catch (err) {
    await runtime.dispose().catch(() => {});
    throw err instanceof LookalikeError
      ? err
      : new LookalikeError('INTERNAL', `warm-up inference failed: ${(err as Error).message}`, { cause: err });
  }
  const batcher = new InferenceBatcher(runtime, batchSize, logger);
  const limiter = new Limiter(options.preprocessConcurrency ?? Math.max(4, 2 * cores));
  const inFlight = new Limiter(options.maxInFlight ?? 2 * batchSize);
  let disposed = false;

  logger.debug(
    {
      modelsDir,
      runtimeDetail: runtime.detail,
      batchSize,
      threads: runtimeName === 'onnx' ? threads : undefined,
      weights: weights.description,
      loadMs: Math.round(performance.now() - started),
    },
    'embedder ready',
  );
  if (weights.untrained && (options.warnUntrained ?? true))
    logger.warn({ weights: weights.description }, UNTRAINED_LOG_LINE);

  const assertOpen = (): void => {
    if (disposed) throw new LookalikeError('INTERNAL', 'embedder is disposed');
  };

  const prepare = (input: ImageInput): Promise<Float32Array> => {
    try {
      assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return limiter.run(() => preprocessImage(input, preprocessing));
  };

  const embedPrepared = (tensors: readonly Float32Array[]): Promise<Float32Array[]> => {
    try {
      assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.all(tensors.map((t) => batcher.submit(t)));
  };

  const embed = async (inputs: readonly ImageInput[]): Promise<Float32Array[]> => {
    assertOpen();
    // Pipelined per image: each goes to the batcher as soon as it is decoded. After the
    // first failure, images not yet started are skipped (the call rejects anyway).
    let failed = false;
    return Promise.all(
      inputs.map((input) =>
        inFlight.run(async () => {
          if (failed) throw new LookalikeError('INTERNAL', 'skipped: another input of this call failed');
          let tensor: Float32Array;
          try {
            tensor = await limiter.run(() => preprocessImage(input, preprocessing));
          } catch (err) {
            failed = true;
            throw err;
          }
          return batcher.submit(tensor);
        }),
      ),
    );
  };

  return {
    dimension: EMBEDDING_DIM,
    runtime: runtimeName,
    weights,
    preprocessing,
    runtimeDetail: runtime.detail,
    stats: batcher.stats,
    prepare,
    embedPrepared,
    embed,
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      await batcher.close();
      await runtime.dispose();
      logger.debug({ stats: batcher.stats }, 'embedder disposed');
    },
  };
}
