/**
 * Cheap checks of an uploaded image before any full decode: byte size, sniffed format,
 * and header dimensions (so a decompression bomb is refused without being decoded).
 */
import sharp, { type Metadata } from 'sharp';
import { LookalikeError } from './errors.js';
import { type ImageKind, sniff } from './sniff.js';

export interface ImageLimits {
  /** @defaultValue 20 MiB */
  maxBytes: number;
  /** width × height of the first frame. @defaultValue 40,000,000 */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
});

export interface ImageInfo {
  kind: ImageKind;
  width: number;
  height: number;
  /** Frames (GIF/WebP/TIFF pages); only the first is used. */
  pages: number;
}

/**
 * Checks an image without decoding its pixels.
 * @throws LookalikeError UNSUPPORTED_IMAGE (not a raster photo: SVG, HTML, text, PDF, empty…),
 *   IMAGE_TOO_LARGE (bytes or pixels), IMAGE_DECODE_FAILED (unreadable header)
 */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<ImageInfo> {
  if (bytes.length > limits.maxBytes) {
    throw new LookalikeError('IMAGE_TOO_LARGE', `Image is ${bytes.length} bytes (limit ${limits.maxBytes})`, {
      details: { bytes: bytes.length, maxBytes: limits.maxBytes },
    });
  }
  const kind = sniff(bytes);
  if (!kind.image) {
    throw new LookalikeError('UNSUPPORTED_IMAGE', `Not a raster image (${kind.kind})`, {
      details: { kind: kind.kind },
    });
  }
  let meta: Metadata;
  try {
    // metadata() reads the header only; limitInputPixels:false so a bomb is measured, not refused opaquely.
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (cause) {
    throw new LookalikeError('IMAGE_DECODE_FAILED', `Unreadable ${kind.kind} header`, {
      cause,
      details: { kind: kind.kind },
    });
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) {
    throw new LookalikeError('IMAGE_DECODE_FAILED', `No dimensions in ${kind.kind} header`, {
      details: { kind: kind.kind },
    });
  }
  if (width * height > limits.maxPixels) {
    throw new LookalikeError('IMAGE_TOO_LARGE', `Image is ${width}×${height} (limit ${limits.maxPixels} pixels)`, {
      details: { width, height, maxPixels: limits.maxPixels },
    });
  }
  return { kind: kind.kind, width, height, pages: meta.pages ?? 1 };
}
