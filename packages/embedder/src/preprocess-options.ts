/** Preprocessing settings: how to resize, EXIF orientation, and the size limits. */
import { DEFAULT_IMAGE_LIMITS } from '@lookalike/core';

export type ResizeMode = 'stretch' | 'pad';

export interface PreprocessOptions {
  /** `stretch` (default, seed behaviour) or `pad` (keep aspect, white borders). */
  resize?: ResizeMode;
  /** Apply EXIF orientation (default true). `false` reproduces Keras `load_img`. */
  exif?: boolean;
  /** Largest accepted width·height, checked from the header before decoding. Default: core's DEFAULT_IMAGE_LIMITS. */
  maxPixels?: number;
  /** Largest accepted encoded size in bytes. Default: core's DEFAULT_IMAGE_LIMITS. */
  maxBytes?: number;
}

/** Preprocessing settings with every default filled in. */
export interface ResolvedPreprocessOptions {
  resize: ResizeMode;
  exif: boolean;
  maxPixels: number;
  maxBytes: number;
}

export function resolvePreprocessOptions(options: PreprocessOptions = {}): ResolvedPreprocessOptions {
  return {
    resize: options.resize ?? 'stretch',
    exif: options.exif ?? true,
    maxPixels: options.maxPixels ?? DEFAULT_IMAGE_LIMITS.maxPixels,
    maxBytes: options.maxBytes ?? DEFAULT_IMAGE_LIMITS.maxBytes,
  };
}
