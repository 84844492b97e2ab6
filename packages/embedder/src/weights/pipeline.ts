/**
 * HDF5 (Keras layout) → validated weights → resnet50.onnx + tfjs/ + manifest.json.
 * Untrained weights take the same path: they are written as a Keras HDF5 file first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Logger, silentLogger, type WeightsSource } from '@lookalike/core';
import { buildOnnxModel } from '../convert/onnx.js';
import { exportTfjsModel } from '../convert/tfjs.js';
import { readKerasWeights, writeKerasWeights } from './hdf5.js';
import { MODEL_ID, type NamingScheme, OFFICIAL_WEIGHTS_MD5, RESNET50_PARAMETERS } from './layout.js';
import {
  hashFile,
  INT8_ONNX_FILE,
  MANIFEST_FILE,
  type Manifest,
  ONNX_FILE,
  OUTPUT,
  PREPROCESSING,
  TFJS_DIR,
  writeManifest,
} from './manifest.js';
import { createUntrainedWeights, DEFAULT_UNTRAINED_SEED } from './untrained.js';

/** A step of a conversion, for progress lines. */
export type ConvertStep = 'hashing' | 'loading' | 'onnx' | 'tfjs' | 'checksums' | 'installing' | 'generating';

export interface ConvertOptions {
  /** The Keras HDF5 weights file. */
  h5Path: string;
  modelsDir: string;
  /** Force the recorded source to `untrained` (otherwise keras-official/file by md5). */
  untrained?: boolean;
  /** Seed recorded for untrained weights. */
  seed?: number;
  /** Name recorded as sourceName (default: the file's base name). */
  sourceName?: string;
  /** md5 of the file if already known (skips hashing). */
  md5?: string;
  logger?: Logger;
  onStep?: (step: ConvertStep) => void;
}

export interface ConvertResult {
  manifest: Manifest;
  scheme: NamingScheme;
  /** Keras 1 (flat `conv1_W:0` names) or Keras 2 layout of the source file. */
  kerasFormat: 1 | 2;
}

/** Hex id for staging paths. */
function stamp(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Converts a Keras HDF5 file into `<modelsDir>/{resnet50.onnx, tfjs/, manifest.json}`, folding
 * batch norm with the epsilon of the file's naming scheme (recorded as `batchNormEpsilon`).
 * Files are produced in a staging dir and moved in place; the manifest is written last, so a
 * models dir is never seen as valid while half written.
 * @throws LookalikeError WEIGHTS_INVALID when the file is not ResNet50 weights in the Keras layout.
 */
export async function convertWeightsFile(options: ConvertOptions): Promise<ConvertResult> {
  const log = (options.logger ?? silentLogger).child({ component: 'weights-convert' });
  const step = options.onStep ?? (() => {});
  const { modelsDir } = options;
  let md5 = options.md5;
  if (md5 === undefined) {
    step('hashing');
    md5 = await hashFile(options.h5Path, 'md5');
  }
  step('loading');
  const loaded = await readKerasWeights(options.h5Path);
  const epsilon = loaded.batchNormEpsilon;
  log.info(
    { scheme: loaded.scheme, keras: loaded.kerasFormat, batchNormEpsilon: epsilon, parameters: loaded.parameters, md5 },
    'weights loaded and validated',
  );

  await mkdir(modelsDir, { recursive: true });
  const staging = join(modelsDir, `.staging-${stamp()}`);
  await mkdir(staging, { recursive: true });
  try {
    step('onnx');
    const source: WeightsSource =
      options.untrained === true ? 'untrained' : md5 === OFFICIAL_WEIGHTS_MD5 ? 'keras-official' : 'file';
    const onnxBytes = buildOnnxModel(loaded.weights, {
      batchNormEpsilon: epsilon,
      metadata: { source, sourceMd5: md5 },
    });
    await writeFile(join(staging, ONNX_FILE), onnxBytes);
    step('tfjs');
    const tfjs = await exportTfjsModel(loaded.weights, join(staging, TFJS_DIR), { batchNormEpsilon: epsilon });
    step('checksums');
    const shards = [];
    for (const p of tfjs.shardPaths) {
      shards.push({ path: p, sha256: await hashFile(join(staging, TFJS_DIR, p), 'sha256') });
    }
    const manifest: Manifest = {
      format: 1,
      model: MODEL_ID,
      source,
      sourceMd5: md5,
      sourceName: options.sourceName ?? basename(options.h5Path),
      ...(options.untrained === true ? { seed: options.seed ?? DEFAULT_UNTRAINED_SEED } : {}),
      createdAt: new Date().toISOString(),
      parameters: RESNET50_PARAMETERS,
      batchNormEpsilon: epsilon,
      sourceLayout: { names: loaded.scheme, keras: loaded.kerasFormat },
      preprocessing: PREPROCESSING,
      output: OUTPUT,
      files: {
        onnx: { path: ONNX_FILE, sha256: await hashFile(join(staging, ONNX_FILE), 'sha256') },
        tfjs: {
          path: `${TFJS_DIR}/${tfjs.modelPath}`,
          sha256: await hashFile(join(staging, TFJS_DIR, tfjs.modelPath), 'sha256'),
          shards,
        },
      },
    };
    step('installing');
    // Invalidate the old set first, then move the new files in, then write the manifest.
    await rm(join(modelsDir, MANIFEST_FILE), { force: true });
    await rm(join(modelsDir, TFJS_DIR), { recursive: true, force: true });
    // An int8 model quantized from the replaced fp32 one no longer matches: `models quantize` again.
    await rm(join(modelsDir, INT8_ONNX_FILE), { force: true });
    await rename(join(staging, TFJS_DIR), join(modelsDir, TFJS_DIR));
    await rename(join(staging, ONNX_FILE), join(modelsDir, ONNX_FILE));
    await writeManifest(modelsDir, manifest);
    log.info({ source, modelsDir }, 'model files written');
    return { manifest, scheme: loaded.scheme, kerasFormat: loaded.kerasFormat };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export interface InitUntrainedOptions {
  modelsDir: string;
  seed?: number;
  logger?: Logger;
  onStep?: (step: ConvertStep) => void;
  /** Layer naming of the temporary HDF5 file (default `current`). */
  scheme?: NamingScheme;
}

/**
 * Generates He-initialised weights from a seed, writes them as a Keras-layout HDF5 file
 * (temporary), and converts that file through {@link convertWeightsFile}.
 */
export async function initUntrainedModels(options: InitUntrainedOptions): Promise<ConvertResult> {
  const seed = options.seed ?? DEFAULT_UNTRAINED_SEED;
  await mkdir(options.modelsDir, { recursive: true });
  const tmpDir = join(options.modelsDir, `.untrained-${stamp()}`);
  await mkdir(tmpDir, { recursive: true });
  const h5Path = join(tmpDir, `resnet50_untrained_seed${seed}.h5`);
  try {
    options.onStep?.('generating');
    const weights = createUntrainedWeights(seed);
    await writeKerasWeights(h5Path, weights, { scheme: options.scheme ?? 'current' });
    const convert: ConvertOptions = {
      h5Path,
      modelsDir: options.modelsDir,
      untrained: true,
      seed,
      sourceName: `untrained (He-normal, seed ${seed})`,
    };
    if (options.logger !== undefined) convert.logger = options.logger;
    if (options.onStep !== undefined) convert.onStep = options.onStep;
    return await convertWeightsFile(convert);
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/** True when `<modelsDir>/manifest.json` exists (no validation). */
export async function hasModels(modelsDir: string): Promise<boolean> {
  const p = join(modelsDir, MANIFEST_FILE);
  if (!existsSync(p)) return false;
  return (await stat(p)).isFile();
}
