/**
 * An independent float64 reference of Keras `ResNet50(include_top=False)` + GlobalMaxPool2D +
 * L2 norm, written from the Keras definition (see shared docs), not from the converter:
 * unfolded batch norm with a caller-given epsilon, explicit ZeroPadding2D + 'valid'
 * convs/pools, 'same' 3x3 convs.
 * Reads the weights straight from a Keras HDF5 file with h5wasm, by each layer's
 * `weight_names` in order: Keras 2 (`conv1_conv/kernel:0`, nested) or Keras 1 (`conv1_W:0`,
 * flat, `…_running_std:0` holding the variance), current or legacy layer names.
 * Naive NHWC loops on flat Float64Arrays; one 224×224 image takes a few tens of seconds.
 */
import h5wasm from 'h5wasm/node';
import { legacyLayerName } from './models.js';

type Layer = Float64Array[];

/** Tensor in NHWC without the batch axis. */
interface Act {
  h: number;
  w: number;
  c: number;
  data: Float64Array;
}

/** Batch-norm epsilon of the current Keras ResNet50 (`conv1_conv` names). */
export const KERAS_EPSILON_CURRENT = 1.001e-5;
/** Batch-norm epsilon of the Keras 2 ResNet50 that loaded the legacy (`conv1`, `bn_conv1`) weights. */
export const KERAS_EPSILON_LEGACY = 1e-3;

/** Reads every weight of every layer (by the layer's `weight_names`) into float64 arrays. */
export async function readReferenceWeights(h5Path: string): Promise<Map<string, Layer>> {
  await h5wasm.ready;
  const f = new h5wasm.File(h5Path, 'r');
  try {
    const layers = new Map<string, Layer>();
    const names = f.attrs.layer_names?.value;
    if (!Array.isArray(names)) throw new Error('no layer_names');
    for (const raw of names) {
      const name = String(raw);
      const g = f.get(name);
      if (!(g instanceof h5wasm.Group)) continue;
      const wn = g.attrs.weight_names?.value;
      if (!Array.isArray(wn) || wn.length === 0) continue;
      layers.set(
        name,
        wn.map((w) => {
          const ds = g.get(String(w));
          if (!(ds instanceof h5wasm.Dataset)) throw new Error(`missing ${name}/${String(w)}`);
          const v = ds.value;
          if (!(v instanceof Float32Array || v instanceof Float64Array)) throw new Error(`bad dtype ${name}`);
          return Float64Array.from(v);
        }),
      );
    }
    return layers;
  } finally {
    f.close();
  }
}

function zeroPad(x: Act, p: number): Act {
  const h = x.h + 2 * p;
  const w = x.w + 2 * p;
  const data = new Float64Array(h * w * x.c);
  for (let y = 0; y < x.h; y++) {
    data.set(x.data.subarray(y * x.w * x.c, (y + 1) * x.w * x.c), ((y + p) * w + p) * x.c);
  }
  return { h, w, c: x.c, data };
}

/** Keras Conv2D, padding 'valid', kernel (k, k, cin, cout), with bias. */
function convValid(x: Act, layer: Layer, stride: number): Act {
  const [kernel, bias] = layer;
  if (!kernel || !bias) throw new Error('conv layer without kernel/bias');
  const cout = bias.length;
  const cin = x.c;
  const k = Math.round(Math.sqrt(kernel.length / (cin * cout)));
  if (k * k * cin * cout !== kernel.length) throw new Error('kernel shape does not match input channels');
  const oh = Math.floor((x.h - k) / stride) + 1;
  const ow = Math.floor((x.w - k) / stride) + 1;
  const out = new Float64Array(oh * ow * cout);
  const inp = x.data;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const ob = (oy * ow + ox) * cout;
      for (let co = 0; co < cout; co++) out[ob + co] = bias[co] as number;
      for (let ky = 0; ky < k; ky++) {
        const iy = oy * stride + ky;
        for (let kx = 0; kx < k; kx++) {
          const ib = (iy * x.w + ox * stride + kx) * cin;
          const kb = (ky * k + kx) * cin * cout;
          for (let ci = 0; ci < cin; ci++) {
            const v = inp[ib + ci] as number;
            if (v === 0) continue;
            const kr = kb + ci * cout;
            for (let co = 0; co < cout; co++) out[ob + co] = (out[ob + co] as number) + v * (kernel[kr + co] as number);
          }
        }
      }
    }
  }
  return { h: oh, w: ow, c: cout, data: out };
}

/** Keras Conv2D padding 'same' with stride 1 and an odd kernel: symmetric (k-1)/2 zero padding. */
function convSame(x: Act, layer: Layer): Act {
  const [kernel, bias] = layer;
  if (!kernel || !bias) throw new Error('conv layer without kernel/bias');
  const k = Math.round(Math.sqrt(kernel.length / (x.c * bias.length)));
  return convValid(zeroPad(x, (k - 1) / 2), layer, 1);
}

/** Keras BatchNormalization at inference: γ·(x − mean)/√(var + ε) + β. */
function batchNormAt(x: Act, layer: Layer, eps: number): Act {
  const [gamma, beta, mean, variance] = layer;
  if (!gamma || !beta || !mean || !variance) throw new Error('bn layer incomplete');
  const out = new Float64Array(x.data.length);
  const c = x.c;
  for (let i = 0; i < x.data.length; i++) {
    const ch = i % c;
    out[i] =
      ((gamma[ch] as number) * ((x.data[i] as number) - (mean[ch] as number))) /
        Math.sqrt((variance[ch] as number) + eps) +
      (beta[ch] as number);
  }
  return { ...x, data: out };
}

function relu(x: Act): Act {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, x.data[i] as number);
  return { ...x, data: out };
}

function add(a: Act, b: Act): Act {
  if (a.h !== b.h || a.w !== b.w || a.c !== b.c) throw new Error('add: shape mismatch');
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (a.data[i] as number) + (b.data[i] as number);
  return { ...a, data: out };
}

/** MaxPooling2D, 'valid'. */
function maxPoolValid(x: Act, k: number, stride: number): Act {
  const oh = Math.floor((x.h - k) / stride) + 1;
  const ow = Math.floor((x.w - k) / stride) + 1;
  const out = new Float64Array(oh * ow * x.c).fill(Number.NEGATIVE_INFINITY);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const ob = (oy * ow + ox) * x.c;
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const ib = ((oy * stride + ky) * x.w + ox * stride + kx) * x.c;
          for (let ch = 0; ch < x.c; ch++) {
            const v = x.data[ib + ch] as number;
            if (v > (out[ob + ch] as number)) out[ob + ch] = v;
          }
        }
      }
    }
  }
  return { h: oh, w: ow, c: x.c, data: out };
}

const STAGES = [
  { stage: 2, blocks: 3, stride: 1 },
  { stage: 3, blocks: 4, stride: 2 },
  { stage: 4, blocks: 6, stride: 2 },
  { stage: 5, blocks: 3, stride: 2 },
] as const;

/**
 * Runs the Keras graph on one caffe-preprocessed 224×224×3 NHWC image. The layer names (current
 * or legacy) are taken from what `layers` holds.
 * @param epsilon the BatchNormalization epsilon ({@link KERAS_EPSILON_CURRENT} or
 *   {@link KERAS_EPSILON_LEGACY}).
 * @returns the L2-normalised GlobalMaxPool vector (2048 values, float64).
 */
export function kerasReferenceEmbedding(
  layers: ReadonlyMap<string, Layer>,
  image: Float32Array,
  epsilon: number,
): Float64Array {
  if (!(epsilon > 0)) throw new Error(`reference: epsilon must be > 0, got ${epsilon}`);
  const legacy = !layers.has('conv1_conv') && layers.has('conv1');
  const get = (name: string): Layer => {
    const stored = legacy ? legacyLayerName(name) : name;
    const l = layers.get(stored);
    if (l === undefined) throw new Error(`reference: missing layer ${stored}`);
    return l;
  };
  const batchNorm = (x: Act, layer: Layer): Act => batchNormAt(x, layer, epsilon);
  let x: Act = { h: 224, w: 224, c: 3, data: Float64Array.from(image) };
  x = zeroPad(x, 3);
  x = convValid(x, get('conv1_conv'), 2);
  x = relu(batchNorm(x, get('conv1_bn')));
  x = maxPoolValid(zeroPad(x, 1), 3, 2);
  for (const s of STAGES) {
    for (let b = 1; b <= s.blocks; b++) {
      const p = `conv${s.stage}_block${b}`;
      const stride = b === 1 ? s.stride : 1;
      const shortcut = b === 1 ? batchNorm(convValid(x, get(`${p}_0_conv`), stride), get(`${p}_0_bn`)) : x;
      let h = relu(batchNorm(convValid(x, get(`${p}_1_conv`), stride), get(`${p}_1_bn`)));
      h = relu(batchNorm(convSame(h, get(`${p}_2_conv`)), get(`${p}_2_bn`)));
      h = batchNorm(convValid(h, get(`${p}_3_conv`), 1), get(`${p}_3_bn`));
      x = relu(add(shortcut, h));
    }
  }
  const pooled = new Float64Array(x.c).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < x.data.length; i++) {
    const ch = i % x.c;
    if ((x.data[i] as number) > (pooled[ch] as number)) pooled[ch] = x.data[i] as number;
  }
  let norm = 0;
  for (const v of pooled) norm += v * v;
  norm = Math.sqrt(norm);
  return pooled.map((v) => v / norm);
}
