/**
 * Catalog images as people see them: answers show each result's own file (collage tiles, the
 * page's cards, chat attachments), and browsers, Discord and Slack cannot show HEIC. A HEIC/HEIF
 * file is decoded (heic.ts) and re-encoded as JPEG; every other file is passed through unchanged.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, sniff } from '@lookalike/core';
import sharp from 'sharp';
import { decodeRgb } from './decode.js';

/** JPEG quality of a converted HEIC image (a display copy, never embedded). */
const DISPLAY_JPEG_QUALITY = 88;

/**
 * The bytes of `path` in a format every answer surface can show.
 * @throws LookalikeError IMAGE_DECODE_FAILED or IMAGE_TOO_LARGE for a HEIC file that cannot be
 *   converted; file-system errors as thrown by readFile.
 */
export async function readDisplayableImage(
  path: string,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<Uint8Array> {
  const bytes = await readFile(path);
  if (sniff(bytes).kind !== 'heic') return bytes;
  const rgb = await decodeRgb(bytes, { maxBytes: limits.maxBytes, maxPixels: limits.maxPixels });
  return sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .jpeg({ quality: DISPLAY_JPEG_QUALITY, mozjpeg: true })
    .toBuffer();
}
