/**
 * `<modelsDir>/manifest.json`: what the model files were converted from and their checksums.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LookalikeError, type WeightsInfo } from '@lookalike/core';
import { z } from 'zod';
import {
  BN_EPSILON_CURRENT,
  CAFFE_MEAN_BGR,
  EMBEDDING_DIMENSION,
  LEGACY_WEIGHTS_MD5,
  MODEL_ID,
  RESNET50_PARAMETERS,
} from './layout.js';

export const MANIFEST_FILE = 'manifest.json';
export const ONNX_FILE = 'resnet50.onnx';
/** The int8 model `lookalike models quantize` writes beside the fp32 one. */
export const INT8_ONNX_FILE = 'resnet50.int8.onnx';
export const TFJS_DIR = 'tfjs';

/** Hint shown when no model files are present. */
export const MODEL_SETUP_HINT =
  'Run `npx lookalike models fetch` (or `npx lookalike models init --untrained` offline), or `npm run setup`.';

/** The one-line warning every command prints when untrained weights are loaded. */
export const UNTRAINED_WEIGHTS_WARNING =
  'WARNING: untrained (random) ResNet50 weights are loaded: similarity results are not meaningful. Run `npx lookalike models fetch` for the real weights.';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const relPath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'),
    'must be a relative path inside the models dir',
  );

/** Numeric precision of the model that computes the vectors. */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/** How the int8 model was made (`lookalike models quantize`). */
export const quantizationSchema = z.object({
  format: z.literal('qdq'),
  /** sha256 of the fp32 ONNX file it was quantized from. */
  fromOnnxSha256: sha256,
  activations: z.object({
    type: z.literal('uint8'),
    granularity: z.literal('per-tensor'),
    method: z.enum(['percentile']),
    percentile: z.number().positive().max(100),
  }),
  weights: z.object({
    type: z.literal('int8'),
    granularity: z.literal('per-channel'),
    symmetric: z.literal(true),
    /** Largest integer magnitude (64: AVX2's u8×s8 pair sums cannot saturate). */
    qmax: z.number().int().min(1).max(127),
  }),
  /** Kept in fp32: the last block's expand conv, add and ReLU, GlobalMaxPool, the L2 norm. */
  fp32Nodes: z.array(z.string()),
  calibration: z.object({
    dir: z.string(),
    /** Images requested and actually used (unreadable ones are skipped). */
    requested: z.number().int().positive(),
    images: z.number().int().positive(),
    /** sha256 of the used images' paths relative to `dir`, one per line, in order. */
    listSha256: sha256,
    resize: z.enum(['stretch', 'pad']),
    exif: z.boolean(),
  }),
  createdAt: z.string(),
});

export type Quantization = z.infer<typeof quantizationSchema>;

export const manifestSchema = z.object({
  format: z.literal(1),
  model: z.literal(MODEL_ID),
  source: z.enum(['keras-official', 'file', 'untrained']),
  sourceMd5: z.string().regex(/^[0-9a-f]{32}$/),
  sourceName: z.string(),
  seed: z.number().int().optional(),
  createdAt: z.string(),
  parameters: z.literal(RESNET50_PARAMETERS),
  /**
   * The batch-norm epsilon folded into the model files: 1.001e-5 for current Keras names, 1e-3
   * for legacy names. Manifests written before it was recorded were all folded with 1.001e-5.
   */
  batchNormEpsilon: z.number().positive().finite().default(BN_EPSILON_CURRENT),
  /** How the source HDF5 file was laid out (absent in older manifests). */
  sourceLayout: z
    .object({ names: z.enum(['current', 'legacy']), keras: z.union([z.literal(1), z.literal(2)]) })
    .optional(),
  preprocessing: z.object({
    size: z.literal(224),
    resize: z.literal('nearest'),
    channelOrder: z.literal('BGR'),
    mean: z.tuple([z.number(), z.number(), z.number()]),
    scale: z.number(),
    layout: z.literal('NHWC'),
  }),
  output: z.object({
    dimension: z.literal(EMBEDDING_DIMENSION),
    pooling: z.literal('max'),
    normalize: z.literal('l2'),
  }),
  files: z.object({
    onnx: z.object({ path: relPath, sha256 }),
    tfjs: z.object({ path: relPath, sha256, shards: z.array(z.object({ path: relPath, sha256 })).min(1) }),
    /** The int8 QDQ model (after `lookalike models quantize`). */
    int8: z.object({ path: relPath, sha256 }).optional(),
  }),
  /** How `files.int8` was made (present with it). */
  quantization: quantizationSchema.optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

export const PREPROCESSING: Manifest['preprocessing'] = Object.freeze({
  size: 224,
  resize: 'nearest',
  channelOrder: 'BGR',
  mean: [...CAFFE_MEAN_BGR] as [number, number, number],
  scale: 1,
  layout: 'NHWC',
}) as Manifest['preprocessing'];

export const OUTPUT: Manifest['output'] = Object.freeze({
  dimension: EMBEDDING_DIMENSION,
  pooling: 'max',
  normalize: 'l2',
}) as Manifest['output'];

/** Streams a file through a hash. */
export async function hashFile(path: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ReadManifestOptions {
  /** Also recompute and compare the sha256 of every file (reads ~190 MB). Default false. */
  verify?: boolean;
}

function modelInvalid(modelsDir: string, message: string, details: Record<string, unknown> = {}): LookalikeError {
  return new LookalikeError('MODEL_INVALID', `${message} (models dir ${modelsDir})`, {
    details: { modelsDir, ...details },
    userMessage: `The model files in ${modelsDir} are damaged or incomplete. Run \`npx lookalike models fetch --force\` or \`npx lookalike models init --untrained --force\`.`,
  });
}

/** Every file the manifest lists, relative to the models dir. */
export function manifestFiles(m: Manifest): { path: string; sha256: string }[] {
  const tfjsDir = m.files.tfjs.path.includes('/') ? m.files.tfjs.path.slice(0, m.files.tfjs.path.lastIndexOf('/')) : '';
  return [
    m.files.onnx,
    { path: m.files.tfjs.path, sha256: m.files.tfjs.sha256 },
    ...m.files.tfjs.shards.map((s) => ({ path: tfjsDir === '' ? s.path : `${tfjsDir}/${s.path}`, sha256: s.sha256 })),
    ...(m.files.int8 === undefined ? [] : [m.files.int8]),
  ];
}

/**
 * Reads and validates `<modelsDir>/manifest.json`, checking that every listed file exists
 * (and, with `verify`, its sha256).
 * @throws LookalikeError MODEL_NOT_FOUND when there is no manifest; MODEL_INVALID otherwise.
 */
export async function readManifest(modelsDir: string, options: ReadManifestOptions = {}): Promise<Manifest> {
  const path = join(modelsDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new LookalikeError('MODEL_NOT_FOUND', `No model files in ${modelsDir} (missing ${MANIFEST_FILE})`, {
      cause,
      details: { modelsDir, hint: MODEL_SETUP_HINT },
      userMessage: `No model files found in ${modelsDir}. ${MODEL_SETUP_HINT}`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw modelInvalid(modelsDir, `${MANIFEST_FILE} is not valid JSON`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw modelInvalid(modelsDir, `${MANIFEST_FILE} is invalid: ${problems.join('; ')}`, { problems });
  }
  const manifest = parsed.data;
  for (const f of manifestFiles(manifest)) {
    const full = join(modelsDir, f.path);
    if (!existsSync(full)) throw modelInvalid(modelsDir, `Model file ${f.path} is missing`, { file: f.path });
    if (options.verify === true) {
      const actual = await hashFile(full, 'sha256');
      if (actual !== f.sha256) {
        throw modelInvalid(modelsDir, `Model file ${f.path} has sha256 ${actual}, manifest says ${f.sha256}`, {
          file: f.path,
          expected: f.sha256,
          actual,
        });
      }
    }
  }
  return manifest;
}

/** Writes manifest.json atomically (temp file + rename). */
export async function writeManifest(modelsDir: string, manifest: Manifest): Promise<void> {
  const checked = manifestSchema.parse(manifest);
  const final = join(modelsDir, MANIFEST_FILE);
  const tmp = `${final}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(checked, null, 2)}\n`);
  await rename(tmp, final);
}

/**
 * The identity of the int8 model's vectors: md5 of the source weights' md5, `int8` and the int8
 * file's sha256. An int8 catalog and an fp32 catalog (or two int8 calibrations) are different
 * models to the catalog's mismatch guard, which compares this `md5`.
 */
export function int8ModelMd5(sourceMd5: string, int8Sha256: string): string {
  return createHash('md5').update(`${sourceMd5}:int8:${int8Sha256}`).digest('hex');
}

/**
 * The core `WeightsInfo` for a manifest (recorded in the catalog, shown in answers). For
 * `int8`, `md5` is {@link int8ModelMd5} (the fp32 identity stays the source file's md5).
 * @throws LookalikeError MODEL_NOT_FOUND when `int8` is asked for and the manifest has none.
 */
export function weightsInfo(manifest: Manifest, precision: Precision = 'fp32'): WeightsInfo {
  const short = `${manifest.sourceMd5.slice(0, 8)}…`;
  const untrained = manifest.source === 'untrained';
  let description: string;
  if (manifest.source === 'keras-official') description = `ResNet50 ImageNet (keras-official, md5 ${short})`;
  else if (manifest.sourceMd5 === LEGACY_WEIGHTS_MD5) {
    description = `ResNet50 ImageNet (legacy Keras 1 file ${manifest.sourceName}, md5 ${short}, BN ε ${manifest.batchNormEpsilon})`;
  } else if (untrained) {
    const seed = manifest.seed === undefined ? '' : `, seed ${manifest.seed}`;
    description = `ResNet50 UNTRAINED (random He init${seed}, md5 ${short}): results are not meaningful`;
  } else description = `ResNet50 (file ${manifest.sourceName}, md5 ${short}, not the official Keras file)`;
  if (precision === 'fp32')
    return { source: manifest.source, md5: manifest.sourceMd5, untrained, description, precision };
  const int8 = manifest.files.int8;
  const q = manifest.quantization;
  if (int8 === undefined || q === undefined) throw int8Missing(manifest);
  return {
    source: manifest.source,
    md5: int8ModelMd5(manifest.sourceMd5, int8.sha256),
    untrained,
    description: `${description}, int8 (QDQ, ${q.activations.method} ${q.activations.percentile} on ${q.calibration.images} images)`,
    precision,
  };
}

/** MODEL_NOT_FOUND: int8 asked for, and `lookalike models quantize` has not been run. */
export function int8Missing(manifest: Manifest): LookalikeError {
  return new LookalikeError(
    'MODEL_NOT_FOUND',
    `No int8 model for ${manifest.sourceName} (run \`lookalike models quantize\`)`,
    {
      details: { hint: 'npx lookalike models quantize [--calibration DIR]' },
      userMessage: 'There is no int8 model yet. Run `npx lookalike models quantize`, or set LOOKALIKE_PRECISION=fp32.',
    },
  );
}
