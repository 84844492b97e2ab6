/**
 * Keras `save_weights` HDF5 files (h5wasm): reads and validates ResNet50 notop weights under
 * the current or the legacy layer names, and writes the Keras 2 layout (for untrained weights
 * and test fixtures).
 *
 * Two file layouts are read:
 * - Keras 2: root `layer_names`, `backend`, `keras_version`; per layer `weight_names` such as
 *   `conv1_conv/kernel:0`, so datasets sit at `conv1_conv/conv1_conv/kernel:0`.
 * - Keras 1 (the fchollet deep-learning-models v0.2 file): root `layer_names` only; weight names
 *   are Keras 1 variable names (`conv1_W:0`, `conv1_b:0`, `bn_conv1_gamma:0`, `…_beta:0`,
 *   `…_running_mean:0`, `…_running_std:0`) and the datasets sit directly in the layer group.
 *   Despite its name, `running_std` holds the variance (Keras 1 passed it to
 *   `K.batch_normalization` as the variance).
 *
 * Either way each weight is taken in `weight_names` order (as Keras loads it), and its name's
 * suffix must match the role at that position.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { LookalikeError } from '@lookalike/core';
import h5wasm from 'h5wasm/node';
import {
  batchNormEpsilon,
  bnLayerName,
  CONV_UNITS,
  type ConvUnitSpec,
  convLayerName,
  kerasLayerNames,
  kernelShape,
  type NamingScheme,
  RESNET50_PARAMETERS,
} from './layout.js';
import type { LoadedKerasWeights, ResNet50Weights, UnitWeights } from './types.js';

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

let readyPromise: Promise<unknown> | undefined;

async function ready(): Promise<void> {
  readyPromise ??= h5wasm.ready;
  await readyPromise;
}

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): LookalikeError {
  return new LookalikeError('WEIGHTS_INVALID', message, cause === undefined ? { details } : { details, cause });
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when the HDF5 superblock signature sits at offset 0, 512, 1024, 2048, … (user block sizes). */
function hasHdf5Signature(path: string): boolean {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      if (readSync(fd, buf, 0, 8, offset) === 8 && buf.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

function decodeString(v: unknown): string {
  if (typeof v === 'string') return v.replace(/\0+$/, '');
  if (v instanceof Uint8Array) {
    let end = v.length;
    while (end > 0 && v[end - 1] === 0) end--;
    return new TextDecoder().decode(v.subarray(0, end));
  }
  return String(v);
}

/**
 * Reads a string-array attribute (fixed-length bytes or vlen; Keras may split large ones as
 * name0, name1…). An empty numeric array (what h5py stores for Keras 1's empty `weight_names`)
 * reads as no names.
 */
function readStringList(node: H5Group, name: string): string[] | undefined {
  const attrs = node.attrs;
  const collect = (attrName: string): string[] | undefined => {
    const a = attrs[attrName];
    if (a === undefined) return undefined;
    const v = a.value;
    if (v === null || v === undefined) return [];
    if (Array.isArray(v)) return v.map(decodeString);
    if (ArrayBuffer.isView(v) && !(v instanceof Uint8Array) && (v as { length?: number }).length === 0) return [];
    return [decodeString(v)];
  };
  const whole = collect(name);
  if (whole !== undefined) return whole;
  if (attrs[`${name}0`] === undefined) return undefined;
  const out: string[] = [];
  for (let i = 0; attrs[`${name}${i}`] !== undefined; i++) out.push(...(collect(`${name}${i}`) ?? []));
  return out;
}

function isGroup(e: unknown): e is H5Group {
  return e instanceof h5wasm.Group;
}

function isDataset(e: unknown): e is H5Dataset {
  return e instanceof h5wasm.Dataset;
}

function detectScheme(layerNames: ReadonlySet<string>): NamingScheme | undefined {
  let current = 0;
  let legacy = 0;
  for (const u of CONV_UNITS) {
    if (layerNames.has(u.convName)) current++;
    if (layerNames.has(u.legacyConvName)) legacy++;
  }
  if (current === 0 && legacy === 0) return undefined;
  return current >= legacy ? 'current' : 'legacy';
}

function shapeText(shape: readonly number[] | null | undefined): string {
  return shape === null || shape === undefined ? '(none)' : `(${shape.join(', ')})`;
}

function sameShape(a: readonly number[] | null, b: readonly number[]): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}

function readFloat32(ds: H5Dataset): Float32Array | undefined {
  const v = ds.value;
  if (v instanceof Float32Array) return v;
  if (v instanceof Float64Array) return Float32Array.from(v);
  return undefined;
}

const CONV_WEIGHTS = ['kernel', 'bias'] as const;
const BN_WEIGHTS = ['gamma', 'beta', 'moving_mean', 'moving_variance'] as const;

/** What a weight is, by position in its layer's `weight_names`. */
export type WeightRole = (typeof CONV_WEIGHTS)[number] | (typeof BN_WEIGHTS)[number];

/**
 * The name suffixes each role may carry: Keras 2 names end in `/kernel`, `/moving_variance`, …;
 * Keras 1 names are `<layer>_W`, `<layer>_b`, `<layer>_gamma`, `<layer>_beta`,
 * `<layer>_running_mean` and `<layer>_running_std` (which holds the variance).
 */
export const WEIGHT_NAME_SUFFIXES: Readonly<Record<WeightRole, readonly string[]>> = Object.freeze({
  kernel: ['kernel', 'W'],
  bias: ['bias', 'b'],
  gamma: ['gamma'],
  beta: ['beta'],
  moving_mean: ['moving_mean', 'running_mean'],
  moving_variance: ['moving_variance', 'running_std'],
});

/** Keras 1 (`conv1_W`) or Keras 2 (`conv1_conv/kernel`) style of a weight name. */
type NameStyle = 1 | 2;

/**
 * Checks a weight name against the role at its position and tells which Keras style it has.
 * The name's last path segment, without the `:0` output index (and TF's `_1` uniquifier), must
 * be the role's suffix (Keras 2) or end in `_<suffix>` (Keras 1).
 */
export function weightNameStyle(name: string, role: WeightRole): NameStyle | undefined {
  const segment = (name.split('/').pop() ?? '').replace(/:\d+$/, '');
  for (const suffix of WEIGHT_NAME_SUFFIXES[role]) {
    if (new RegExp(`^${suffix}(_\\d+)?$`).test(segment)) return 2;
    if (new RegExp(`.+_${suffix}(_\\d+)?$`).test(segment)) return 1;
  }
  return undefined;
}

/** Reads the datasets of one layer, in `weight_names` order, checking count, name suffixes and shapes. */
function readLayer(
  root: H5Group,
  layer: string,
  roles: readonly WeightRole[],
  expected: readonly (readonly number[])[],
  layerNames: ReadonlySet<string>,
  styles: Set<NameStyle>,
): Float32Array[] {
  const entity = root.get(layer);
  if (!layerNames.has(layer) || !isGroup(entity)) {
    throw invalid(`Layer ${layer} is missing from the weights file`, { layer, reason: 'missing' });
  }
  const names = readStringList(entity, 'weight_names') ?? [];
  if (names.length !== roles.length) {
    throw invalid(
      `Layer ${layer}: expected ${roles.length} weights (${roles.join(', ')}), found ${names.length} (${names.join(', ')})`,
      { layer, reason: 'weight-count', expected: roles.length, actual: names.length },
    );
  }
  return names.map((wn, i) => {
    const role = roles[i] ?? 'kernel';
    const shape = expected[i] ?? [];
    const style = weightNameStyle(wn, role);
    if (style === undefined) {
      const suffixes = WEIGHT_NAME_SUFFIXES[role].join(' or ');
      throw invalid(
        `Layer ${layer}: weight ${i + 1} is named ${wn}, expected the ${role} (a name ending in ${suffixes})`,
        { layer, weight: wn, role, reason: 'weight-name' },
      );
    }
    styles.add(style);
    const ds = entity.get(wn);
    if (!isDataset(ds)) {
      throw invalid(`Layer ${layer}: dataset ${wn} (${role}) is missing`, { layer, weight: wn, reason: 'missing' });
    }
    const actual = ds.shape;
    if (!sameShape(actual, shape)) {
      throw invalid(
        `Layer ${layer} ${role} has shape ${shapeText(actual)}, expected ${shapeText(shape)} (dataset ${wn})`,
        { layer, weight: wn, role, reason: 'shape', expected: shape, actual },
      );
    }
    const data = readFloat32(ds);
    if (data === undefined) {
      throw invalid(`Layer ${layer} ${role} has dtype ${String(ds.dtype)}, expected float32`, {
        layer,
        weight: wn,
        role,
        reason: 'dtype',
      });
    }
    for (let j = 0; j < data.length; j++) {
      const v = data[j] as number;
      if (!Number.isFinite(v) || (role === 'moving_variance' && v < 0)) {
        throw invalid(`Layer ${layer} ${role} holds an invalid value (${v}) at index ${j}`, {
          layer,
          weight: wn,
          role,
          reason: 'value',
        });
      }
    }
    return data;
  });
}

function readUnit(
  root: H5Group,
  u: ConvUnitSpec,
  scheme: NamingScheme,
  layerNames: ReadonlySet<string>,
  styles: Set<NameStyle>,
): UnitWeights {
  const ks = kernelShape(u);
  const c = u.outChannels;
  const [kernel, bias] = readLayer(root, convLayerName(u, scheme), CONV_WEIGHTS, [ks, [c]], layerNames, styles);
  // Keras 1's running_std is the variance: it is read as moving_variance, unchanged.
  const [gamma, beta, movingMean, movingVariance] = readLayer(
    root,
    bnLayerName(u, scheme),
    BN_WEIGHTS,
    [[c], [c], [c], [c]],
    layerNames,
    styles,
  );
  if (!kernel || !bias || !gamma || !beta || !movingMean || !movingVariance) {
    throw invalid(`Unit ${u.id}: incomplete weights`, { layer: u.convName });
  }
  return { kernel, kernelShape: ks, bias, gamma, beta, movingMean, movingVariance };
}

/** Counts parameters of in-memory weights. */
export function countParameters(weights: ResNet50Weights): number {
  let n = 0;
  for (const w of weights.units.values()) {
    n += w.kernel.length + w.bias.length + w.gamma.length + w.beta.length;
    n += w.movingMean.length + w.movingVariance.length;
  }
  return n;
}

/**
 * Loads a Keras ResNet50 notop weights file (current or legacy names; Keras 2 or Keras 1 layout)
 * and validates every layer, weight name and shape (53 conv + 53 BN, 23,587,712 parameters).
 * The result carries the batch-norm epsilon of the model the names belong to
 * (1.001e-5 current, 1e-3 legacy).
 * @throws LookalikeError WEIGHTS_INVALID naming the first mismatching layer (and weight), expected and actual.
 */
export async function readKerasWeights(path: string): Promise<LoadedKerasWeights> {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw invalid(`Weights file not found: ${path}`, { path, reason: 'not-found' });
  }
  if (!hasHdf5Signature(path)) throw invalid(`Not an HDF5 file: ${path}`, { path, reason: 'not-hdf5' });
  await ready();
  let file: InstanceType<typeof h5wasm.File>;
  try {
    file = new h5wasm.File(path, 'r');
  } catch (cause) {
    throw invalid(`Not an HDF5 file: ${path}`, { path, reason: 'not-hdf5' }, cause);
  }
  try {
    let root: H5Group = file;
    // Full-model saves (`model.save`) keep the weights under /model_weights.
    if (readStringList(root, 'layer_names') === undefined) {
      const mw = file.get('model_weights');
      if (isGroup(mw)) root = mw;
    }
    const list = readStringList(root, 'layer_names');
    if (list === undefined) {
      throw invalid(`${path} has no layer_names attribute: not a Keras weights file`, { path, reason: 'layout' });
    }
    const layerNames = new Set(list);
    const scheme = detectScheme(layerNames);
    if (scheme === undefined) {
      throw invalid(`Layer conv1_conv (or legacy conv1) is missing: not a Keras ResNet50 weights file`, {
        layer: 'conv1_conv',
        reason: 'missing',
      });
    }
    const units = new Map<string, UnitWeights>();
    const styles = new Set<NameStyle>();
    for (const u of CONV_UNITS) units.set(u.id, readUnit(root, u, scheme, layerNames, styles));
    const weights: ResNet50Weights = { units };
    const parameters = countParameters(weights);
    if (parameters !== RESNET50_PARAMETERS) {
      throw invalid(`Weights have ${parameters} parameters, expected ${RESNET50_PARAMETERS}`, {
        reason: 'parameters',
        expected: RESNET50_PARAMETERS,
        actual: parameters,
      });
    }
    const kerasFormat: 1 | 2 = styles.has(2) ? 2 : 1;
    if (styles.size > 1) {
      throw invalid('The weights file mixes Keras 1 names (conv1_W) and Keras 2 names (conv1_conv/kernel)', {
        reason: 'weight-name',
      });
    }
    return { weights, scheme, parameters, kerasFormat, batchNormEpsilon: batchNormEpsilon(scheme) };
  } catch (err) {
    if (err instanceof LookalikeError) throw err;
    throw invalid(`Could not read weights from ${path}: ${(err as Error).message}`, { path }, err);
  } finally {
    file.close();
  }
}

export interface WriteKerasOptions {
  scheme?: NamingScheme;
  /** How attribute strings are stored: fixed-length bytes (`|S…`, what h5py writes) or vlen. */
  strings?: 'fixed' | 'vlen';
  /** Layer names to leave out entirely (for test fixtures of broken files). */
  omitLayers?: readonly string[];
}

function stringAttr(node: H5Group, name: string, values: readonly string[], strings: 'fixed' | 'vlen'): void {
  if (values.length === 0) {
    node.create_attribute(name, [], [0], 'S1');
    return;
  }
  if (strings === 'vlen') {
    node.create_attribute(name, [...values]);
    return;
  }
  // Fixed-length ASCII, as h5py stores numpy `|S` arrays.
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  node.create_attribute(name, [...values], null, `A${width}`);
}

/**
 * Writes weights as a Keras 2 `save_weights` HDF5 file: root `layer_names` (every layer,
 * including weightless ones), `backend` and `keras_version`, per-layer `weight_names`
 * (`<layer>/kernel:0`, …), datasets at `<layer>/<weight name>`.
 */
export async function writeKerasWeights(
  path: string,
  weights: ResNet50Weights,
  options: WriteKerasOptions = {},
): Promise<void> {
  const scheme = options.scheme ?? 'current';
  const strings = options.strings ?? 'fixed';
  const omit = new Set(options.omitLayers ?? []);
  await ready();
  const byLayer = new Map<string, { suffixes: readonly string[]; data: Float32Array[]; shapes: number[][] }>();
  for (const u of CONV_UNITS) {
    const w = weights.units.get(u.id);
    if (w === undefined) throw new LookalikeError('INTERNAL', `writeKerasWeights: no weights for ${u.id}`);
    const c = [w.bias.length];
    byLayer.set(convLayerName(u, scheme), {
      suffixes: CONV_WEIGHTS,
      data: [w.kernel, w.bias],
      shapes: [w.kernelShape, c],
    });
    byLayer.set(bnLayerName(u, scheme), {
      suffixes: BN_WEIGHTS,
      data: [w.gamma, w.beta, w.movingMean, w.movingVariance],
      shapes: [[w.gamma.length], [w.beta.length], [w.movingMean.length], [w.movingVariance.length]],
    });
  }
  const layerNames = kerasLayerNames(scheme).filter((n) => !omit.has(n));
  const file = new h5wasm.File(path, 'w');
  try {
    stringAttr(file, 'layer_names', layerNames, strings);
    file.create_attribute('backend', 'tensorflow');
    file.create_attribute('keras_version', '2.2.4');
    for (const layer of layerNames) {
      const g = file.create_group(layer);
      const entry = byLayer.get(layer);
      if (entry === undefined) {
        stringAttr(g, 'weight_names', [], strings);
        continue;
      }
      const names = entry.suffixes.map((s) => `${layer}/${s}:0`);
      stringAttr(g, 'weight_names', names, strings);
      const sub = g.create_group(layer);
      entry.suffixes.forEach((s, i) => {
        const data = entry.data[i];
        const shape = entry.shapes[i];
        if (data === undefined || shape === undefined) return;
        sub.create_dataset({ name: `${s}:0`, data, shape, dtype: '<f' });
      });
    }
  } finally {
    file.close();
  }
}
