/**
 * Model fixtures for tests and benchmarks.
 * - Untrained model files, generated once (fixed seed) into test/.tmp/models-untrained by the
 *   real pipeline: He-init weights → Keras HDF5 → loader → ONNX + tfjs converters → manifest.
 *   Safe when several test processes call it at once: one process holds an mkdir lock and
 *   builds into a temp dir that is renamed into place.
 * - {@link writeKeras1Weights}: a weights file laid out like the legacy Keras 1 file, written
 *   here with h5wasm directly (not by the product's writer).
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initUntrainedModels, type ResNet50Weights, readManifest } from '@lookalike/embedder';

/** Seed of the shared untrained test weights. */
export const UNTRAINED_TEST_SEED = 42;

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where test artefacts go (git-ignored). */
export const TEST_TMP_DIR = join(REPO_ROOT, 'test', '.tmp');
const MODELS_DIR = join(TEST_TMP_DIR, 'models-untrained');
const LOCK_DIR = `${MODELS_DIR}.lock`;
/** A lock without a live owner, or older than this, is considered abandoned. */
const STALE_LOCK_MS = 10 * 60_000;

let pending: Promise<string> | undefined;

async function isReady(dir: string): Promise<boolean> {
  try {
    const m = await readManifest(dir);
    return m.source === 'untrained' && m.seed === UNTRAINED_TEST_SEED;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockIsStale(): Promise<boolean> {
  try {
    const info = await stat(LOCK_DIR);
    const age = Date.now() - info.mtimeMs;
    if (age > STALE_LOCK_MS) return true;
    const pid = Number((await readFile(join(LOCK_DIR, 'pid'), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 && !alive(pid);
  } catch {
    // No pid file yet (owner just created the lock) or the lock vanished: not stale.
    return false;
  }
}

async function build(): Promise<string> {
  await mkdir(TEST_TMP_DIR, { recursive: true });
  for (;;) {
    if (await isReady(MODELS_DIR)) return MODELS_DIR;
    let locked = false;
    try {
      await mkdir(LOCK_DIR);
      locked = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!locked) {
      if (await lockIsStale()) await rm(LOCK_DIR, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
      if (await isReady(MODELS_DIR)) return MODELS_DIR;
      const staging = `${MODELS_DIR}.build-${process.pid}-${Date.now()}`;
      try {
        await initUntrainedModels({ modelsDir: staging, seed: UNTRAINED_TEST_SEED });
        await rm(MODELS_DIR, { recursive: true, force: true });
        await rename(staging, MODELS_DIR);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      return MODELS_DIR;
    } finally {
      await rm(LOCK_DIR, { recursive: true, force: true });
    }
  }
}

/**
 * Returns a models dir (manifest.json, resnet50.onnx, tfjs/) holding untrained weights
 * (seed {@link UNTRAINED_TEST_SEED}), generating it on first use (~10 s).
 */
export function ensureUntrainedModels(): Promise<string> {
  pending ??= build().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

const LETTERS = 'abcdef';
const LEGACY_BRANCH: Record<string, string> = { '0': '1', '1': '2a', '2': '2b', '3': '2c' };

/**
 * The legacy Keras name of a current layer name: `conv1_conv` → `conv1`, `conv1_bn` → `bn_conv1`,
 * `conv3_block2_1_conv` → `res3b_branch2a`, `conv4_block1_0_bn` → `bn4a_branch1`.
 */
export function legacyLayerName(current: string): string {
  if (current === 'conv1_conv') return 'conv1';
  if (current === 'conv1_bn') return 'bn_conv1';
  const m = /^conv(\d)_block(\d)_(\d)_(conv|bn)$/.exec(current);
  if (m === null) throw new Error(`legacyLayerName: not a conv/bn layer name: ${current}`);
  const [, stage, block, unit, kind] = m;
  const letter = LETTERS[Number(block) - 1];
  const branch = LEGACY_BRANCH[unit as string];
  if (letter === undefined || branch === undefined) throw new Error(`legacyLayerName: bad layer name ${current}`);
  return `${kind === 'conv' ? 'res' : 'bn'}${stage}${letter}_branch${branch}`;
}

/** How the fchollet file orders the ResNet50 stages: (stage, blocks). */
const KERAS1_STAGES = [
  [2, 3],
  [3, 4],
  [4, 6],
  [5, 3],
] as const;

/** One layer of the Keras 1 file: its name and, for conv/bn layers, the canonical unit id. */
interface Keras1Layer {
  name: string;
  unit?: string;
  kind?: 'conv' | 'bn';
}

/**
 * The layers of fchollet deep-learning-models v0.2 `ResNet50(include_top=False)` in Keras 1
 * order (`model.layers`, sorted by depth): Keras 1 auto-names for the weightless layers
 * (`zeropadding2d_1`, `maxpooling2d_1`, `merge_N`, `activation_N`), `avg_pool` at the end.
 */
function keras1Layers(): Keras1Layer[] {
  const layers: Keras1Layer[] = [{ name: 'input_1' }, { name: 'zeropadding2d_1' }];
  let act = 0;
  let merge = 0;
  const unit = (id: string, kind: 'conv' | 'bn'): Keras1Layer => ({
    name: legacyLayerName(`${id}_${kind}`),
    unit: id,
    kind,
  });
  layers.push(unit('conv1', 'conv'), unit('conv1', 'bn'), { name: `activation_${++act}` }, { name: 'maxpooling2d_1' });
  for (const [stage, blocks] of KERAS1_STAGES) {
    for (let b = 1; b <= blocks; b++) {
      const p = `conv${stage}_block${b}`;
      layers.push(unit(`${p}_1`, 'conv'), unit(`${p}_1`, 'bn'), { name: `activation_${++act}` });
      layers.push(unit(`${p}_2`, 'conv'), unit(`${p}_2`, 'bn'), { name: `activation_${++act}` });
      if (b === 1) {
        layers.push(unit(`${p}_3`, 'conv'), unit(`${p}_0`, 'conv'), unit(`${p}_3`, 'bn'), unit(`${p}_0`, 'bn'));
      } else {
        layers.push(unit(`${p}_3`, 'conv'), unit(`${p}_3`, 'bn'));
      }
      layers.push({ name: `merge_${++merge}` }, { name: `activation_${++act}` });
    }
  }
  layers.push({ name: 'avg_pool' });
  return layers;
}

export interface Keras1WeightsOptions {
  /**
   * Rewrites a layer's `weight_names` list before it is stored (the datasets keep their own
   * names), to make files whose names disagree with their roles.
   */
  weightNames?: (layer: string, names: string[]) => string[];
}

type H5 = typeof import('h5wasm/node').default;
type H5Node = InstanceType<H5['Group']>;

/** Fixed-length ASCII strings, as h5py stores a list of byte strings (numpy `|S`). */
function asciiAttr(node: H5Node, name: string, values: readonly string[]): void {
  const width = Math.max(1, ...values.map((v) => v.length));
  node.create_attribute(name, [...values], null, `A${width}`);
}

/**
 * Writes `weights` the way Keras 1.0.7 `save_weights` wrote the legacy file
 * (fchollet deep-learning-models v0.2, md5 a268eb855778b3df3c7506639542a6af):
 * - the root holds only `layer_names` (no `backend`, no `keras_version`);
 * - every layer is a group with `weight_names`; weightless layers get an empty list, which h5py
 *   stores as an empty float64 array;
 * - weight names are Keras 1 variable names, `conv1_W:0`, `conv1_b:0`, `bn_conv1_gamma:0`,
 *   `bn_conv1_beta:0`, `bn_conv1_running_mean:0`, `bn_conv1_running_std:0`, and the datasets sit
 *   directly in the layer group (`conv1/conv1_W:0`); `running_std` holds the variance;
 * - strings are fixed-length ASCII; kernels are (kh, kw, in, out) float32.
 */
export async function writeKeras1Weights(
  path: string,
  weights: ResNet50Weights,
  options: Keras1WeightsOptions = {},
): Promise<void> {
  // Loaded here, not at import: most tests import this module only for the untrained models.
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  const layers = keras1Layers();
  const file = new h5wasm.File(path, 'w');
  try {
    asciiAttr(
      file,
      'layer_names',
      layers.map((l) => l.name),
    );
    for (const layer of layers) {
      const g = file.create_group(layer.name);
      if (layer.unit === undefined) {
        g.create_attribute('weight_names', new Float64Array(0), [0], '<d');
        continue;
      }
      const w = weights.units.get(layer.unit);
      if (w === undefined) throw new Error(`writeKeras1Weights: no weights for ${layer.unit}`);
      const c = w.bias.length;
      const entries: [string, Float32Array, number[]][] =
        layer.kind === 'conv'
          ? [
              ['W', w.kernel, w.kernelShape],
              ['b', w.bias, [c]],
            ]
          : [
              ['gamma', w.gamma, [c]],
              ['beta', w.beta, [c]],
              ['running_mean', w.movingMean, [c]],
              ['running_std', w.movingVariance, [c]],
            ];
      const names = entries.map(([suffix]) => `${layer.name}_${suffix}:0`);
      asciiAttr(g, 'weight_names', options.weightNames?.(layer.name, names) ?? names);
      entries.forEach(([, data, shape], i) => {
        g.create_dataset({ name: names[i] as string, data, shape, dtype: '<f' });
      });
    }
  } finally {
    file.close();
  }
}
