/**
 * Image → model input, the way the seed's Keras `load_img` + `preprocess_input` did it: read,
 * sniff, check limits and decode (decode.ts), then resize PIL-nearest and apply caffe
 * (resize.ts). This is what the decode worker runs for each image.
 */
import { decodeRgb, readImageBytes } from './decode.js';
import { type PreprocessOptions, resolvePreprocessOptions } from './preprocess-options.js';
import { caffeFromRgb, resizeRgb } from './resize.js';

/** Decode + resize: the 224×224 RGB bytes the network sees (before caffe). */
export async function preprocessToRgb(
  input: Uint8Array | string,
  options: PreprocessOptions = {},
): Promise<Uint8Array> {
  const opts = resolvePreprocessOptions(options);
  const bytes = await readImageBytes(input, opts);
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
