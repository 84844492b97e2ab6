/**
 * Cheap checks of an image before any full decode: byte size, sniffed format, and header
 * dimensions (so a decompression bomb is refused without being decoded). sharp reads every
 * sniffed kind's header, HEIC/HEIF included (its libvips parses the HEIF container; the pixels are
 * decoded later by the embedder, with libheif-js).
 */
import {
  decodableKind,
  type ImageInfo,
  type ImageInspector,
  type ImageLimits,
  imageTooLarge,
  LookalikeError,
} from '@lookalike/core';
import sharp, { type Metadata } from 'sharp';

/**
 * Checks an image without decoding its pixels.
 * @throws LookalikeError UNSUPPORTED_IMAGE (not a raster photo: SVG, HTML, text, PDF, empty…),
 *   IMAGE_TOO_LARGE (bytes or pixels, quoting `limits` to the user), IMAGE_DECODE_FAILED (unreadable header)
 */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<ImageInfo> {
  if (bytes.length > limits.maxBytes) {
    throw imageTooLarge(`Image is ${bytes.length} bytes (limit ${limits.maxBytes})`, limits, { bytes: bytes.length });
  }
  const kind = { kind: decodableKind(bytes) };
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
    throw imageTooLarge(`Image is ${width}×${height} (limit ${limits.maxPixels} pixels)`, limits, { width, height });
  }
  return { kind: kind.kind, width, height, pages: meta.pages ?? 1 };
}

/** An inspector bound to the configured limits. */
export function createImageInspector(limits: ImageLimits): ImageInspector {
  const frozen = Object.freeze({ ...limits });
  return { limits: frozen, inspect: (bytes) => inspectImage(bytes, frozen) };
}
