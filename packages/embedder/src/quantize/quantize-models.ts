/**
 * `lookalike models quantize`: the fp32 `resnet50.onnx` (checksummed) → calibration on N
 * images → `resnet50.int8.onnx` beside it, recorded in manifest.json (`files.int8`,
 * `quantization`) with its calibration set and method.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, LookalikeError, silentLogger } from '@lookalike/core';
import { modelInvalid } from '../load-runtime.js';
import { preprocessImage } from '../preprocess.js';
import { type PreprocessOptions, resolvePreprocessOptions } from '../preprocess-options.js';
import { INT8_ONNX_FILE, type Manifest, type Quantization, readManifest, writeManifest } from '../weights/manifest.js';
import { calibrate } from './calibrate.js';
import { calibratedTensors, planQuantization, readFp32Graph } from './graph.js';
import { listImageFiles, spreadOrder } from './images.js';
import { buildQdqModel } from './qdq.js';
import { activationParams } from './qparams.js';

/** Calibration images by default. */
export const DEFAULT_CALIBRATION_IMAGES = 64;
/** Activation ranges clip the 0.001% most extreme values (robust to outliers, unlike min/max). */
export const DEFAULT_CALIBRATION_PERCENTILE = 99.999;
/** Weight integers in [−64, 64]: MLAS's AVX2 u8×s8 kernels (vpmaddubsw) cannot saturate. */
export const DEFAULT_WEIGHT_QMAX = 64;

export type QuantizeStep = 'reading' | 'calibrating' | 'writing';

export interface QuantizeOptions {
  modelsDir: string;
  /** Folder of calibration images (catalog photos). */
  calibrationDir: string;
  /** @defaultValue {@link DEFAULT_CALIBRATION_IMAGES} */
  images?: number;
  /** @defaultValue {@link DEFAULT_CALIBRATION_PERCENTILE} */
  percentile?: number;
  /** @defaultValue {@link DEFAULT_WEIGHT_QMAX} */
  weightQmax?: number;
  /** Preprocessing of the calibration images (use the embedder's). */
  preprocessing?: PreprocessOptions;
  /** ORT intra-op threads during calibration (default: cores). */
  threads?: number;
  logger?: Logger;
  onStep?: (step: QuantizeStep) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface QuantizeResult {
  manifest: Manifest;
  path: string;
  /** Calibration images used, relative to the calibration dir. */
  used: string[];
  /** Unreadable images skipped. */
  skipped: number;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Preprocesses the first `n` readable images of `order`; unreadable ones are skipped. */
async function loadCalibrationSet(
  dir: string,
  order: readonly string[],
  n: number,
  preprocessing: PreprocessOptions,
  log: Logger,
): Promise<{ tensors: Float32Array[]; used: string[]; skipped: number }> {
  const tensors: Float32Array[] = [];
  const used: string[] = [];
  let skipped = 0;
  for (const rel of order) {
    if (tensors.length >= n) break;
    try {
      tensors.push(await preprocessImage(join(dir, rel), preprocessing));
      used.push(rel);
    } catch (err) {
      if (!(err instanceof LookalikeError)) throw err;
      skipped++;
      log.warn({ file: rel, code: err.code }, 'calibration image skipped');
    }
  }
  return { tensors, used, skipped };
}

/**
 * Writes `<modelsDir>/resnet50.int8.onnx` and records it in the manifest (the fp32 files are
 * untouched). Deterministic for the same fp32 model, images and options.
 * @throws LookalikeError MODEL_NOT_FOUND / MODEL_INVALID (fp32 model), CATALOG_NOT_FOUND (no
 *   readable calibration images), CONFIG_INVALID (bad option).
 */
export async function quantizeModels(options: QuantizeOptions): Promise<QuantizeResult> {
  const log = (options.logger ?? silentLogger).child({ component: 'quantize' });
  const step = options.onStep ?? (() => {});
  const n = options.images ?? DEFAULT_CALIBRATION_IMAGES;
  const percentile = options.percentile ?? DEFAULT_CALIBRATION_PERCENTILE;
  const qmax = options.weightQmax ?? DEFAULT_WEIGHT_QMAX;
  if (!Number.isInteger(n) || n < 1) throw new LookalikeError('CONFIG_INVALID', `images must be ≥ 1, got ${n}`);
  if (!(percentile > 50 && percentile <= 100))
    throw new LookalikeError('CONFIG_INVALID', `percentile must be in (50, 100], got ${percentile}`);
  if (!Number.isInteger(qmax) || qmax < 8 || qmax > 127)
    throw new LookalikeError('CONFIG_INVALID', `weightQmax must be 8–127, got ${qmax}`);
  const { modelsDir } = options;
  const preprocessing = resolvePreprocessOptions(options.preprocessing ?? {});

  step('reading');
  const manifest = await readManifest(modelsDir);
  const fp32 = await readFile(join(modelsDir, manifest.files.onnx.path));
  const fp32Sha = sha256(fp32);
  if (fp32Sha !== manifest.files.onnx.sha256) {
    throw modelInvalid(
      modelsDir,
      `model file ${manifest.files.onnx.path} has sha256 ${fp32Sha}, manifest says ${manifest.files.onnx.sha256}`,
    );
  }
  const graph = readFp32Graph(fp32);
  const plan = planQuantization(graph);
  const names = calibratedTensors(plan);

  const files = await listImageFiles(options.calibrationDir);
  const set = await loadCalibrationSet(options.calibrationDir, spreadOrder(files, n), n, preprocessing, log);
  if (set.tensors.length === 0) {
    throw new LookalikeError('CATALOG_NOT_FOUND', `No readable images in ${options.calibrationDir} to calibrate on`, {
      details: { dir: options.calibrationDir, files: files.length },
      userMessage: `No readable images in ${options.calibrationDir}: pass --calibration DIR with catalog photos.`,
    });
  }
  step('calibrating');
  const started = performance.now();
  const histograms = await calibrate({
    graph,
    tensors: names,
    images: set.tensors,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const params = new Map([...histograms].map(([name, h]) => [name, activationParams(h.percentileRange(percentile))]));
  log.info(
    {
      images: set.used.length,
      skipped: set.skipped,
      tensors: names.length,
      ms: Math.round(performance.now() - started),
    },
    'calibrated',
  );

  step('writing');
  const quantization: Quantization = {
    format: 'qdq',
    fromOnnxSha256: fp32Sha,
    activations: { type: 'uint8', granularity: 'per-tensor', method: 'percentile', percentile },
    weights: { type: 'int8', granularity: 'per-channel', symmetric: true, qmax },
    fp32Nodes: [...plan.fp32Nodes, 'gmp', 'l2 norm'],
    calibration: {
      dir: options.calibrationDir,
      requested: n,
      images: set.used.length,
      listSha256: sha256(set.used.join('\n')),
      resize: preprocessing.resize,
      exif: preprocessing.exif,
    },
    createdAt: new Date().toISOString(),
  };
  const bytes = buildQdqModel(graph, plan, {
    params,
    weightQmax: qmax,
    metadata: { calibration: `${quantization.activations.method} ${percentile}, ${set.used.length} images` },
  });
  const final = join(modelsDir, INT8_ONNX_FILE);
  const tmp = `${final}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, final);
  } finally {
    await rm(tmp, { force: true });
  }
  const next: Manifest = {
    ...manifest,
    files: { ...manifest.files, int8: { path: INT8_ONNX_FILE, sha256: sha256(bytes) } },
    quantization,
  };
  await writeManifest(modelsDir, next);
  log.info({ path: final, bytes: bytes.length }, 'int8 model written');
  return { manifest: next, path: final, used: set.used, skipped: set.skipped };
}
