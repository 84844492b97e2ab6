/**
 * Reading and decoding one image, the first half of preprocessing:
 *
 * 1. read a path (its size checked before it is read) or take the bytes (size-checked);
 * 2. the format from magic bytes with core's `decodableKind` (never the extension);
 * 3. check the pixel limit from the header, before any pixel is decoded;
 * 4. decode the first frame with sharp at full resolution (no shrink-on-load: Keras decodes
 *    at full size), apply EXIF orientation unless `exif: false`, flatten alpha onto white,
 *    convert to 8-bit 3-channel sRGB. HEIC/HEIF is decoded by libheif-js instead (heic.ts: the
 *    primary image, with the container's rotation and mirroring), then flattened and converted
 *    by sharp the same way.
 */
import { readFile, stat } from 'node:fs/promises';
import { decodableKind, type ImageKind, type ImageLimits, imageTooLarge, LookalikeError } from '@lookalike/core';
import sharp, { type Sharp } from 'sharp';
import { decodeHeif, type HeifPixels } from './heic.js';
import { type PreprocessOptions, resolvePreprocessOptions } from './preprocess-options.js';

/** A decoded image: 8-bit interleaved RGB. */
export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major RGB. */
  data: Uint8Array;
}

/** Reads a path (size-checked first) or passes bytes through (size-checked). */
export async function readImageBytes(input: Uint8Array | string, limits: ImageLimits): Promise<Uint8Array> {
  if (typeof input !== 'string') {
    if (input.byteLength > limits.maxBytes) throw tooManyBytes(input.byteLength, limits);
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
  if (size > limits.maxBytes) throw tooManyBytes(size, limits, input);
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

/** IMAGE_TOO_LARGE for an encoded size over `limits.maxBytes` (the user sentence quotes the limits). */
export function tooManyBytes(bytes: number, limits: ImageLimits, path?: string): LookalikeError {
  return imageTooLarge(`image is ${bytes} bytes, over the ${limits.maxBytes}-byte limit`, limits, {
    bytes,
    ...(path === undefined ? {} : { path }),
  });
}

function tooManyPixels(width: number, height: number, limits: ImageLimits): LookalikeError {
  return imageTooLarge(
    `image is ${width}×${height} (${width * height} pixels), over the ${limits.maxPixels}-pixel limit`,
    limits,
    { width, height },
  );
}

function decodeFailed(format: ImageKind | undefined, err: unknown): LookalikeError {
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
  if (bytes.byteLength > opts.maxBytes) throw tooManyBytes(bytes.byteLength, opts);
  const format = decodableKind(bytes);
  if (format === 'heic') return decodeHeicRgb(bytes, opts);
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
  if (width * height > opts.maxPixels) throw tooManyPixels(width, height, opts);

  // libvips enforces the same limit again while decoding.
  const image = sharp(input, { ...common, limitInputPixels: opts.maxPixels, autoOrient: opts.exif });
  try {
    return await onWhiteRgb(image);
  } catch (err) {
    if (err instanceof Error && /pixel limit/i.test(err.message)) throw tooManyPixels(width, height, opts);
    throw decodeFailed(format, err);
  }
}

/**
 * HEIC/HEIF: libheif-js parses the container and reports the primary image's size (the pixel
 * limit is checked there, before any pixel is decoded), decodes it to RGBA, and sharp flattens
 * it onto white as it does every other format. The container's rotation and mirroring are always
 * applied (they are part of the HEIF image, not EXIF), so `exif: false` changes nothing here.
 */
async function decodeHeicRgb(bytes: Uint8Array, opts: ImageLimits): Promise<RgbImage> {
  let rgba: HeifPixels;
  try {
    rgba = decodeHeif(bytes, (width, height) => {
      if (width * height > opts.maxPixels) throw tooManyPixels(width, height, opts);
    });
  } catch (err) {
    if (err instanceof LookalikeError) throw err;
    throw decodeFailed('heic', err);
  }
  try {
    return await onWhiteRgb(
      sharp(rgba.data, {
        raw: { width: rgba.width, height: rgba.height, channels: 4, premultiplied: rgba.premultiplied },
      }),
    );
  } catch (err) {
    throw decodeFailed('heic', err);
  }
}

/** The one decode tail of every format: flattened onto white, sRGB, 8-bit RGB. */
async function onWhiteRgb(image: Sharp): Promise<RgbImage> {
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
}

function formatMatches(sniffed: ImageKind, reported: string): boolean {
  if (sniffed === 'avif') return reported === 'heif' || reported === 'avif';
  return reported === sniffed;
}
