/**
 * Image → model input, the way the seed's Keras `load_img` + `preprocess_input` did it:
 *
 * 1. sniff the format from magic bytes (never the extension);
 * 2. decode the first frame with sharp at full resolution (no shrink-on-load: Keras decodes
 *    at full size), apply EXIF orientation unless `exif: false`, flatten alpha onto white,
 *    convert to 8-bit 3-channel sRGB;
 * 3. resize to 224×224 with PIL's nearest-neighbour index mapping (`stretch`, the seed's
 *    behaviour) or keep the aspect and pad with white (`pad`);
 * 4. caffe mode: RGB→BGR, minus the ImageNet mean, float32 NHWC.
 *
 * Why not sharp's own nearest kernel: libvips picks different source pixels than PIL for
 * upscales and for non-integer downscales (measured: 300×225 and 500×500 agree, 100×50,
 * 150×150, 1000×700 and 2400×1800 do not), so the mapping is done here, exactly as
 * Pillow's `ImagingScaleAffine` does it (incremental double accumulation, truncation).
 */
import { readFile, stat } from 'node:fs/promises';
import { LookalikeError } from '@lookalike/core';
import sharp from 'sharp';
import { type ImageFormat, sniffImage } from './sniff.js';
import { CAFFE_MEAN_BGR } from './weights/layout.js';

/** Model input side. */
export const INPUT_SIZE = 224;
/** Floats in one preprocessed image (224·224·3, NHWC). */
export const INPUT_LENGTH = INPUT_SIZE * INPUT_SIZE * 3;
export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;

export type ResizeMode = 'stretch' | 'pad';

export interface PreprocessOptions {
  /** `stretch` (default, seed behaviour) or `pad` (keep aspect, white borders). */
  resize?: ResizeMode;
  /** Apply EXIF orientation (default true). `false` reproduces Keras `load_img`. */
  exif?: boolean;
  /** Largest accepted width·height, checked from the header before decoding. Default 40 MP. */
  maxPixels?: number;
  /** Largest accepted encoded size in bytes. Default 20 MB. */
  maxBytes?: number;
}

interface ResolvedOptions {
  resize: ResizeMode;
  exif: boolean;
  maxPixels: number;
  maxBytes: number;
}

export function resolvePreprocessOptions(options: PreprocessOptions = {}): ResolvedOptions {
  return {
    resize: options.resize ?? 'stretch',
    exif: options.exif ?? true,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  };
}

/** A decoded image: 8-bit interleaved RGB. */
export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major RGB. */
  data: Uint8Array;
}

/** Reads a path (size-checked first) or passes bytes through (size-checked). */
export async function readImageBytes(input: Uint8Array | string, maxBytes: number): Promise<Uint8Array> {
  if (typeof input !== 'string') {
    if (input.byteLength > maxBytes) throw tooManyBytes(input.byteLength, maxBytes);
    return input;
  }
  let size: number;
  try {
    const st = await stat(input);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (err) {
    throw new LookalikeError('IMAGE_DECODE_FAILED', `cannot read image file ${input}: ${(err as Error).message}`, {
      cause: err,
      details: { path: input },
      userMessage: "I couldn't read that image file.",
    });
  }
  if (size > maxBytes) throw tooManyBytes(size, maxBytes, input);
  try {
    return await readFile(input);
  } catch (err) {
    throw new LookalikeError('IMAGE_DECODE_FAILED', `cannot read image file ${input}: ${(err as Error).message}`, {
      cause: err,
      details: { path: input },
      userMessage: "I couldn't read that image file.",
    });
  }
}

function tooManyBytes(bytes: number, maxBytes: number, path?: string): LookalikeError {
  return new LookalikeError('IMAGE_TOO_LARGE', `image is ${bytes} bytes, over the ${maxBytes}-byte limit`, {
    details: { bytes, maxBytes, ...(path === undefined ? {} : { path }) },
  });
}

function tooManyPixels(width: number, height: number, maxPixels: number): LookalikeError {
  return new LookalikeError(
    'IMAGE_TOO_LARGE',
    `image is ${width}×${height} (${width * height} pixels), over the ${maxPixels}-pixel limit`,
    { details: { width, height, maxPixels } },
  );
}

function decodeFailed(format: ImageFormat | undefined, err: unknown): LookalikeError {
  const msg = err instanceof Error ? err.message : String(err);
  return new LookalikeError('IMAGE_DECODE_FAILED', `cannot decode ${format ?? 'image'}: ${msg}`, {
    cause: err,
    details: format === undefined ? {} : { format },
  });
}

/**
 * Decodes the bytes of one image (first frame) into 8-bit RGB at full resolution, oriented
 * (unless `exif` is false) and flattened onto white. Throws UNSUPPORTED_IMAGE,
 * IMAGE_DECODE_FAILED or IMAGE_TOO_LARGE.
 */
export async function decodeRgb(bytes: Uint8Array, options: PreprocessOptions = {}): Promise<RgbImage> {
  const opts = resolvePreprocessOptions(options);
  if (bytes.byteLength > opts.maxBytes) throw tooManyBytes(bytes.byteLength, opts.maxBytes);
  const sniffed = sniffImage(bytes);
  if (sniffed.kind === 'truncated') {
    throw new LookalikeError(
      'IMAGE_DECODE_FAILED',
      bytes.length === 0 ? 'image is empty (0 bytes)' : 'image is truncated',
      {
        details: { bytes: bytes.length },
      },
    );
  }
  if (sniffed.kind === 'unsupported') {
    throw new LookalikeError('UNSUPPORTED_IMAGE', `not a supported image (${sniffed.what})`, {
      details: { detected: sniffed.what },
    });
  }
  const format = sniffed.format;
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const common = {
    // Reject truncated/corrupt data instead of returning a partially grey image.
    failOn: 'error',
    // First frame only (GIF/WebP animations, multi-page TIFF).
    pages: 1,
    page: 0,
  } as const;
  // Header only: size check BEFORE anything is decoded (a 20000×20000 PNG bomb stops here).
  let width: number;
  let height: number;
  try {
    const meta = await sharp(input, { ...common, limitInputPixels: false }).metadata();
    if (meta.format !== undefined && !formatMatches(format, meta.format)) {
      throw new Error(`bytes look like ${format} but decode as ${meta.format}`);
    }
    width = meta.width ?? 0;
    height = meta.pageHeight ?? meta.height ?? 0;
  } catch (err) {
    throw decodeFailed(format, err);
  }
  if (width <= 0 || height <= 0) throw decodeFailed(format, new Error('image has no size'));
  if (width * height > opts.maxPixels) throw tooManyPixels(width, height, opts.maxPixels);

  // libvips enforces the same limit again while decoding.
  const image = sharp(input, { ...common, limitInputPixels: opts.maxPixels, autoOrient: opts.exif });
  try {
    const { data, info } = await image
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    if (err instanceof Error && /pixel limit/i.test(err.message)) throw tooManyPixels(width, height, opts.maxPixels);
    throw decodeFailed(format, err);
  }
}

function formatMatches(sniffed: ImageFormat, reported: string): boolean {
  if (sniffed === 'avif') return reported === 'heif' || reported === 'avif';
  return reported === sniffed;
}

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

/** Decode + resize: the 224×224 RGB bytes the network sees (before caffe). */
export async function preprocessToRgb(
  input: Uint8Array | string,
  options: PreprocessOptions = {},
): Promise<Uint8Array> {
  const opts = resolvePreprocessOptions(options);
  const bytes = await readImageBytes(input, opts.maxBytes);
  const decoded = await decodeRgb(bytes, opts);
  return resizeRgb(decoded, opts.resize);
}

/**
 * One image (bytes or path) → Float32Array(224·224·3), NHWC, caffe-preprocessed.
 * Rejects with UNSUPPORTED_IMAGE, IMAGE_DECODE_FAILED or IMAGE_TOO_LARGE.
 */
export async function preprocessImage(
  input: Uint8Array | string,
  options: PreprocessOptions = {},
): Promise<Float32Array> {
  return caffeFromRgb(await preprocessToRgb(input, options));
}
