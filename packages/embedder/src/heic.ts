/**
 * HEIC/HEIF decoding with libheif-js (libheif and libde265 compiled to WebAssembly, no native
 * code). sharp's prebuilt libvips reads HEIF headers but has no HEVC decoder, so the decode path
 * hands HEIC files to this module instead.
 *
 * The container is parsed first and the primary image's size is passed to `beforeDecode` (the
 * pixel limit) before any pixel is decoded. The WebAssembly module is loaded on the first HEIC
 * image, once per thread. HEIF carries rotation and mirroring as container properties (`irot`,
 * `imir`), which libheif always applies.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The primary image of a HEIF file as 8-bit interleaved RGBA (straight or premultiplied alpha). */
export interface HeifPixels {
  width: number;
  height: number;
  /** width·height·4 bytes, row-major RGBA. Alpha is 255 when the image has none. */
  data: Uint8Array;
  /** The image carries an alpha channel. */
  hasAlpha: boolean;
  /** The colour channels are premultiplied by alpha. */
  premultiplied: boolean;
}

/** libheif's error struct as libheif-js returns it (`code` is an embind enum value). */
interface HeifError {
  code: unknown;
  message?: string;
}

interface HeifChannel {
  id: unknown;
  width: number;
  height: number;
  stride: number;
  data: Uint8Array;
}

interface HeifDecoded {
  code?: unknown;
  message?: string;
  image: unknown;
  channels: HeifChannel[];
}

/** The part of the libheif-js module this file uses. */
interface LibHeif {
  heif_error_Ok: unknown;
  heif_colorspace_RGB: unknown;
  heif_chroma_interleaved_RGBA: unknown;
  heif_channel_interleaved: unknown;
  heif_get_version(): string;
  heif_context_alloc(): unknown;
  heif_context_free(ctx: unknown): void;
  heif_context_read_from_memory(ctx: unknown, bytes: Uint8Array): HeifError;
  heif_js_context_get_primary_image_handle(ctx: unknown): unknown;
  heif_image_handle_get_width(handle: unknown): number;
  heif_image_handle_get_height(handle: unknown): number;
  heif_image_handle_has_alpha_channel(handle: unknown): number;
  heif_image_handle_is_premultiplied_alpha(handle: unknown): number;
  heif_image_handle_release(handle: unknown): void;
  heif_js_decode_image2(handle: unknown, colorspace: unknown, chroma: unknown): HeifDecoded | null;
  heif_image_release(image: unknown): void;
}

let loaded: LibHeif | undefined;

/** The libheif-js module of this thread, instantiated from its .wasm file on first use. */
function libheif(): LibHeif {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    const factory = require('libheif-js/libheif-wasm/libheif.js') as (options: { wasmBinary: Uint8Array }) => LibHeif;
    const wasmBinary = readFileSync(require.resolve('libheif-js/libheif-wasm/libheif.wasm'));
    loaded = factory({ wasmBinary });
  }
  return loaded;
}

/** The libheif version inside libheif-js (loads the module). */
export function libheifVersion(): string {
  return libheif().heif_get_version();
}

function isError(value: unknown): value is HeifError {
  return typeof value === 'object' && value !== null && 'code' in value;
}

/**
 * Decodes the primary image of a HEIC/HEIF file to RGBA. `beforeDecode(width, height)` runs
 * after the container is parsed and before any pixel is decoded; throw from it to refuse.
 * @throws Error when the container or the image data is unreadable (callers wrap it in their code),
 *   or whatever `beforeDecode` throws
 */
export function decodeHeif(bytes: Uint8Array, beforeDecode: (width: number, height: number) => void): HeifPixels {
  const m = libheif();
  const ctx = m.heif_context_alloc();
  if (ctx === null || ctx === undefined) throw new Error('libheif could not allocate a context');
  let handle: unknown;
  try {
    const read = m.heif_context_read_from_memory(ctx, bytes);
    if (read.code !== m.heif_error_Ok) throw new Error(`not a readable HEIF file: ${read.message ?? 'unknown error'}`);
    handle = m.heif_js_context_get_primary_image_handle(ctx);
    if (handle === null || handle === undefined || isError(handle)) {
      const message = isError(handle) ? handle.message : undefined;
      handle = undefined;
      throw new Error(`no primary image in the HEIF file: ${message ?? 'unknown error'}`);
    }
    const width = m.heif_image_handle_get_width(handle);
    const height = m.heif_image_handle_get_height(handle);
    if (width <= 0 || height <= 0) throw new Error('HEIF image has no size');
    beforeDecode(width, height);
    const hasAlpha = m.heif_image_handle_has_alpha_channel(handle) !== 0;
    const premultiplied = hasAlpha && m.heif_image_handle_is_premultiplied_alpha(handle) !== 0;
    const decoded = m.heif_js_decode_image2(handle, m.heif_colorspace_RGB, m.heif_chroma_interleaved_RGBA);
    if (decoded === null || decoded.code !== undefined) {
      throw new Error(`HEIF image data is unreadable: ${decoded?.message?.trim() ?? 'unknown error'}`);
    }
    try {
      const plane = decoded.channels.find((c) => c.id === m.heif_channel_interleaved);
      if (plane === undefined) throw new Error('libheif returned no interleaved RGBA plane');
      if (plane.width !== width || plane.height !== height) {
        throw new Error(`libheif decoded ${plane.width}×${plane.height}, the header said ${width}×${height}`);
      }
      const row = width * 4;
      if (plane.stride < row || plane.data.length < plane.stride * (height - 1) + row) {
        throw new Error('libheif returned a short RGBA plane');
      }
      // Copy out of the WebAssembly heap, dropping any row padding.
      const data = new Uint8Array(row * height);
      if (plane.stride === row) {
        data.set(plane.data.subarray(0, row * height));
      } else {
        for (let y = 0; y < height; y++) {
          const from = y * plane.stride;
          data.set(plane.data.subarray(from, from + row), y * row);
        }
      }
      return { width, height, data, hasAlpha, premultiplied };
    } finally {
      m.heif_image_release(decoded.image);
    }
  } finally {
    if (handle !== undefined) m.heif_image_handle_release(handle);
    m.heif_context_free(ctx);
  }
}
