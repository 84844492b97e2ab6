/**
 * The second half of preprocessing, on decoded RGB: resize to 224×224 with PIL's
 * nearest-neighbour index mapping (`stretch`, the seed's behaviour) or keep the aspect and pad
 * with white (`pad`), then caffe mode: RGB→BGR, minus the ImageNet mean, float32 NHWC.
 *
 * Why not sharp's own nearest kernel: libvips picks different source pixels than PIL for
 * upscales and for non-integer downscales (measured: 300×225 and 500×500 agree, 100×50,
 * 150×150, 1000×700 and 2400×1800 do not), so the mapping is done here, exactly as
 * Pillow's `ImagingScaleAffine` does it (incremental double accumulation, truncation).
 */
import type { RgbImage } from './decode.js';
import type { ResizeMode } from './preprocess-options.js';
import { INPUT_SIZE } from './runtime.js';
import { CAFFE_MEAN_BGR } from './weights/layout.js';

/**
 * Source indices PIL's nearest-neighbour resize reads for each of `outSize` outputs
 * (Pillow `ImagingScaleAffine`: xo = scale·0.5, then xo += scale, index = (int)xo).
 */
export function pilNearestIndices(inSize: number, outSize: number): Int32Array {
  const scale = inSize / outSize;
  const idx = new Int32Array(outSize);
  let xo = scale * 0.5;
  for (let x = 0; x < outSize; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    // PIL leaves out-of-range outputs unwritten; with scale = in/out that never happens,
    // clamp defensively anyway.
    idx[x] = Math.min(Math.max(xin, 0), inSize - 1);
    xo += scale;
  }
  return idx;
}

/** PIL-exact nearest-neighbour resize of an RGB image, written into `out` at (ox, oy). */
function nearestInto(
  src: RgbImage,
  outW: number,
  outH: number,
  out: Uint8Array,
  outStride: number,
  ox: number,
  oy: number,
): void {
  const xs = pilNearestIndices(src.width, outW);
  const ys = pilNearestIndices(src.height, outH);
  const inRow = src.width * 3;
  const data = src.data;
  for (let y = 0; y < outH; y++) {
    const srcRow = (ys[y] ?? 0) * inRow;
    let o = ((oy + y) * outStride + ox) * 3;
    for (let x = 0; x < outW; x++) {
      const s = srcRow + (xs[x] ?? 0) * 3;
      out[o] = data[s] ?? 0;
      out[o + 1] = data[s + 1] ?? 0;
      out[o + 2] = data[s + 2] ?? 0;
      o += 3;
    }
  }
}

/**
 * Resizes to size×size RGB. `stretch`: aspect not kept (Keras `load_img(target_size=…)`).
 * `pad`: the longer side becomes `size`, centred on white.
 */
export function resizeRgb(src: RgbImage, mode: ResizeMode, size = INPUT_SIZE): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  if (mode === 'stretch') {
    if (src.width === size && src.height === size) {
      out.set(src.data);
      return out;
    }
    nearestInto(src, size, size, out, size, 0, 0);
    return out;
  }
  out.fill(255);
  const scale = Math.min(size / src.width, size / src.height);
  const w = Math.min(size, Math.max(1, Math.round(src.width * scale)));
  const h = Math.min(size, Math.max(1, Math.round(src.height * scale)));
  nearestInto(src, w, h, out, size, (size - w) >> 1, (size - h) >> 1);
  return out;
}

const MEAN_B = Math.fround(CAFFE_MEAN_BGR[0]);
const MEAN_G = Math.fround(CAFFE_MEAN_BGR[1]);
const MEAN_R = Math.fround(CAFFE_MEAN_BGR[2]);

/**
 * Keras `preprocess_input(mode='caffe')` on 224×224 RGB bytes: BGR order, minus the mean,
 * float32 NHWC. Written into `out` (at `offset` floats) when given, so a batch can be
 * assembled without copies.
 */
export function caffeFromRgb(rgb: Uint8Array, out?: Float32Array, offset = 0): Float32Array {
  const dst = out ?? new Float32Array(rgb.length);
  for (let i = 0, o = offset; i < rgb.length; i += 3, o += 3) {
    dst[o] = (rgb[i + 2] ?? 0) - MEAN_B;
    dst[o + 1] = (rgb[i + 1] ?? 0) - MEAN_G;
    dst[o + 2] = (rgb[i] ?? 0) - MEAN_R;
  }
  return dst;
}
