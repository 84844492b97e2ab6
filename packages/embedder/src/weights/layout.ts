/**
 * The Keras ResNet50 (v1, include_top=False) topology as data: every conv + batch-norm pair,
 * its shape, stride and padding, and its names under the current and the legacy Keras naming.
 * Everything else in the weights pipeline (loader, writer, converters, reference) reads this.
 */

/**
 * Batch-norm epsilon of the current Keras ResNet50 (`keras.applications`, layer names
 * `conv1_conv`, `conv1_bn`, …).
 */
export const BN_EPSILON_CURRENT = 1.001e-5;

/**
 * Batch-norm epsilon of the model that loaded the legacy-named weights (`conv1`, `bn_conv1`, …):
 * the Keras 2 `keras.applications.ResNet50` of that era used BatchNormalization's default, 1e-3
 * (keras-applications#8).
 */
export const BN_EPSILON_LEGACY = 1e-3;

/** Total parameter count of Keras ResNet50 notop (conv kernels+biases, BN γ, β, mean, var). */
export const RESNET50_PARAMETERS = 23_587_712;

/** Output dimension (channels of conv5 = GlobalMaxPool length). */
export const EMBEDDING_DIMENSION = 2048;

/** The official Keras notop weights file. */
export const OFFICIAL_WEIGHTS_URL =
  'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5';
export const OFFICIAL_WEIGHTS_MD5 = '4d473c1dd8becc155b73f8504c6f6626';
export const OFFICIAL_WEIGHTS_NAME = 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5';

/**
 * The legacy file: fchollet deep-learning-models release v0.2, saved by Keras 1.0.7 (flat
 * `conv1/conv1_W:0` datasets, `running_std` holding the variance, no root `keras_version`).
 */
export const LEGACY_WEIGHTS_MD5 = 'a268eb855778b3df3c7506639542a6af';

/** Model identifier written into manifest.json. */
export const MODEL_ID = 'resnet50-keras-notop-gmp-l2';

/** caffe-mode preprocessing constants (BGR order). */
export const CAFFE_MEAN_BGR: readonly [number, number, number] = [103.939, 116.779, 123.68];

export type NamingScheme = 'current' | 'legacy';

/** Role of a conv unit inside a bottleneck block (`stem` = conv1). */
export type UnitRole = 'stem' | 'shortcut' | 'reduce' | 'spatial' | 'expand';

/** One conv layer followed by its batch norm. */
export interface ConvUnitSpec {
  /** Canonical id: the current Keras prefix, e.g. `conv1`, `conv3_block2_2`. */
  readonly id: string;
  readonly role: UnitRole;
  /** Stage 1..5 (1 = stem). */
  readonly stage: number;
  /** Block index within the stage, 1-based (0 for the stem). */
  readonly block: number;
  readonly kernel: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: number;
  /** Symmetric zero padding applied before the conv (Keras 'same' for 3x3 s1 = 1; conv1 = 3). */
  readonly pad: number;
  /** Layer names in the current scheme. */
  readonly convName: string;
  readonly bnName: string;
  /** Layer names in the legacy scheme. */
  readonly legacyConvName: string;
  readonly legacyBnName: string;
}

/** A bottleneck block: its units and whether it has a projection shortcut. */
export interface BlockSpec {
  readonly stage: number;
  readonly block: number;
  readonly prefix: string;
  readonly shortcut: ConvUnitSpec | undefined;
  readonly reduce: ConvUnitSpec;
  readonly spatial: ConvUnitSpec;
  readonly expand: ConvUnitSpec;
}

const STAGES: readonly { stage: number; blocks: number; filters: number; stride: number }[] = [
  { stage: 2, blocks: 3, filters: 64, stride: 1 },
  { stage: 3, blocks: 4, filters: 128, stride: 2 },
  { stage: 4, blocks: 6, filters: 256, stride: 2 },
  { stage: 5, blocks: 3, filters: 512, stride: 2 },
];

const LETTERS = 'abcdef';

function unit(
  id: string,
  role: UnitRole,
  stage: number,
  block: number,
  kernel: number,
  inChannels: number,
  outChannels: number,
  stride: number,
  pad: number,
  legacyConvName: string,
  legacyBnName: string,
): ConvUnitSpec {
  return Object.freeze({
    id,
    role,
    stage,
    block,
    kernel,
    inChannels,
    outChannels,
    stride,
    pad,
    convName: `${id}_conv`,
    bnName: `${id}_bn`,
    legacyConvName,
    legacyBnName,
  });
}

function buildLayout(): { stem: ConvUnitSpec; blocks: BlockSpec[] } {
  const stem = unit('conv1', 'stem', 1, 0, 7, 3, 64, 2, 3, 'conv1', 'bn_conv1');
  const blocks: BlockSpec[] = [];
  let channels = 64;
  for (const s of STAGES) {
    for (let b = 1; b <= s.blocks; b++) {
      const prefix = `conv${s.stage}_block${b}`;
      const letter = LETTERS[b - 1] ?? '?';
      const legacy = `${s.stage}${letter}`;
      const stride = b === 1 ? s.stride : 1;
      const f = s.filters;
      const shortcut =
        b === 1
          ? unit(
              `${prefix}_0`,
              'shortcut',
              s.stage,
              b,
              1,
              channels,
              4 * f,
              stride,
              0,
              `res${legacy}_branch1`,
              `bn${legacy}_branch1`,
            )
          : undefined;
      const reduce = unit(
        `${prefix}_1`,
        'reduce',
        s.stage,
        b,
        1,
        channels,
        f,
        stride,
        0,
        `res${legacy}_branch2a`,
        `bn${legacy}_branch2a`,
      );
      const spatial = unit(
        `${prefix}_2`,
        'spatial',
        s.stage,
        b,
        3,
        f,
        f,
        1,
        1,
        `res${legacy}_branch2b`,
        `bn${legacy}_branch2b`,
      );
      const expand = unit(
        `${prefix}_3`,
        'expand',
        s.stage,
        b,
        1,
        f,
        4 * f,
        1,
        0,
        `res${legacy}_branch2c`,
        `bn${legacy}_branch2c`,
      );
      blocks.push(Object.freeze({ stage: s.stage, block: b, prefix, shortcut, reduce, spatial, expand }));
      channels = 4 * f;
    }
  }
  return { stem, blocks };
}

const LAYOUT = buildLayout();

/** conv1 (7x7/2). */
export const STEM: ConvUnitSpec = LAYOUT.stem;
/** The 16 bottleneck blocks in model order. */
export const BLOCKS: readonly BlockSpec[] = Object.freeze(LAYOUT.blocks);

/** All 53 conv units in Keras model order (stem, then per block: 1, 2, 0 (if any), 3). */
export const CONV_UNITS: readonly ConvUnitSpec[] = Object.freeze([
  STEM,
  ...BLOCKS.flatMap((b) => [b.reduce, b.spatial, ...(b.shortcut === undefined ? [] : [b.shortcut]), b.expand]),
]);

/** Shape of a conv kernel in Keras layout (kh, kw, in, out). */
export function kernelShape(u: ConvUnitSpec): [number, number, number, number] {
  return [u.kernel, u.kernel, u.inChannels, u.outChannels];
}

/** Parameters of one conv+bn unit. */
export function unitParameters(u: ConvUnitSpec): number {
  return u.kernel * u.kernel * u.inChannels * u.outChannels + u.outChannels + 4 * u.outChannels;
}

/** The batch-norm epsilon of the model a naming scheme belongs to (current 1.001e-5, legacy 1e-3). */
export function batchNormEpsilon(scheme: NamingScheme): number {
  return scheme === 'current' ? BN_EPSILON_CURRENT : BN_EPSILON_LEGACY;
}

export function convLayerName(u: ConvUnitSpec, scheme: NamingScheme): string {
  return scheme === 'current' ? u.convName : u.legacyConvName;
}

export function bnLayerName(u: ConvUnitSpec, scheme: NamingScheme): string {
  return scheme === 'current' ? u.bnName : u.legacyBnName;
}

/**
 * Every layer name of the Keras model in order, including layers without weights
 * (input, paddings, activations, pools, adds), as Keras writes them into `layer_names`.
 */
export function kerasLayerNames(scheme: NamingScheme): string[] {
  if (scheme === 'current') {
    const names = ['input_1', 'conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool'];
    for (const b of BLOCKS) {
      const p = b.prefix;
      names.push(`${p}_1_conv`, `${p}_1_bn`, `${p}_1_relu`, `${p}_2_conv`, `${p}_2_bn`, `${p}_2_relu`);
      if (b.shortcut !== undefined) names.push(`${p}_0_conv`, `${p}_3_conv`, `${p}_0_bn`, `${p}_3_bn`);
      else names.push(`${p}_3_conv`, `${p}_3_bn`);
      names.push(`${p}_add`, `${p}_out`);
    }
    return names;
  }
  let act = 0;
  let add = 0;
  const names = ['input_1', 'conv1_pad', 'conv1', 'bn_conv1', `activation_${++act}`, 'pool1_pad', 'max_pooling2d_1'];
  for (const b of BLOCKS) {
    names.push(b.reduce.legacyConvName, b.reduce.legacyBnName, `activation_${++act}`);
    names.push(b.spatial.legacyConvName, b.spatial.legacyBnName, `activation_${++act}`);
    if (b.shortcut !== undefined) {
      names.push(b.expand.legacyConvName, b.shortcut.legacyConvName, b.expand.legacyBnName, b.shortcut.legacyBnName);
    } else {
      names.push(b.expand.legacyConvName, b.expand.legacyBnName);
    }
    names.push(`add_${++add}`, `activation_${++act}`);
  }
  return names;
}
