/**
 * Content sniffing by magic bytes, the only sniffer in the repository. File names and Content-Type
 * headers are never trusted.
 */
import { LookalikeError } from './errors.js';

/** Raster formats the sniffer recognises, all of which the product decodes. `heic` covers HEIC and HEIF. */
export type ImageKind = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'heic' | 'tiff';

/** What a byte buffer looks like. */
export type SniffResult =
  | { kind: ImageKind; image: true }
  | { kind: 'svg' | 'html' | 'text' | 'pdf' | 'empty' | 'unknown'; image: false };

const CONTENT_TYPES: Readonly<Record<ImageKind, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  heic: 'image/heic',
  tiff: 'image/tiff',
};

const EXTENSIONS: Readonly<Record<ImageKind, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  avif: 'avif',
  heic: 'heic',
  tiff: 'tif',
};

/** The MIME type of a sniffed raster kind. */
export function contentTypeOf(kind: ImageKind): string {
  return CONTENT_TYPES[kind];
}

/** The usual file extension (without dot) of a sniffed raster kind. */
export function extensionOf(kind: ImageKind): string {
  return EXTENSIONS[kind];
}

function startsWith(bytes: Uint8Array, sig: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[offset + i] !== sig[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < Math.min(end, bytes.length); i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

/**
 * Identifies a buffer from its first bytes: a raster image kind, or what it is instead
 * (SVG, HTML, plain text, PDF, empty, unknown).
 */
export function sniff(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return { kind: 'empty', image: false };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'jpeg', image: true };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'png', image: true };
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return { kind: 'gif', image: true };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { kind: 'webp', image: true };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { kind: 'tiff', image: true };
  }
  if (ascii(bytes, 4, 8) === 'ftyp') {
    // ISO BMFF: the major brand, then the compatible brands up to the end of the ftyp box.
    // An AVIF may carry the generic `mif1` as major brand with `avif` among the compatible ones.
    const brands = ftypBrands(bytes);
    if (brands.some((b) => AVIF_BRANDS.has(b))) return { kind: 'avif', image: true };
    if (brands.some((b) => HEIC_BRANDS.has(b))) return { kind: 'heic', image: true };
    return { kind: 'unknown', image: false };
  }
  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'pdf', image: false };
  if (startsWith(bytes, [0x1f, 0x8b])) {
    // gzip: could be .svgz; never an image we decode.
    return { kind: 'unknown', image: false };
  }
  const head = textHead(bytes);
  if (head !== undefined) {
    const lower = head.toLowerCase();
    if (/<svg[\s>]/.test(lower)) return { kind: 'svg', image: false };
    if (/^\s*<(!doctype\s+html|html|head|body|script|meta|title|div|p|a|iframe|form)[\s>/]/.test(lower)) {
      return { kind: 'html', image: false };
    }
    if (/<html[\s>]/.test(lower)) return { kind: 'html', image: false };
    return { kind: 'text', image: false };
  }
  return { kind: 'unknown', image: false };
}

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'mif1', 'msf1', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);

/** Major and compatible brands of an `ftyp` box (bounded by the box size and the buffer). */
function ftypBrands(bytes: Uint8Array): string[] {
  const size = (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
  const end = Math.min(bytes.length, Math.max(size, 16), 256);
  const brands = [ascii(bytes, 8, 12)];
  for (let off = 16; off + 4 <= end; off += 4) brands.push(ascii(bytes, off, off + 4));
  return brands;
}

/** The first 1 KiB decoded as text when it looks like text (no NULs or control bytes), else undefined. */
function textHead(bytes: Uint8Array): string | undefined {
  let start = 0;
  if (startsWith(bytes, [0xef, 0xbb, 0xbf])) start = 3;
  const end = Math.min(bytes.length, start + 1024);
  let control = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0) return undefined;
    if (b < 0x09 || (b > 0x0d && b < 0x20 && b !== 0x1b)) control++;
  }
  if (control > (end - start) / 100) return undefined;
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(start, end));
}

/**
 * Raster kinds the product decodes: every kind the sniffer recognises (HEIC/HEIF through
 * libheif-js in the embedder, the rest through sharp).
 */
export type DecodableKind = ImageKind;

/**
 * The one decision on whether bytes are an image the product decodes, shared by the inspector (on
 * the answer path) and the embedder (for catalog files).
 * @throws LookalikeError UNSUPPORTED_IMAGE: not a raster image (empty, SVG, HTML, text, PDF, …)
 */
export function decodableKind(bytes: Uint8Array): DecodableKind {
  const sniffed = sniff(bytes);
  if (!sniffed.image) {
    throw new LookalikeError('UNSUPPORTED_IMAGE', `Not a raster image (${sniffed.kind})`, {
      details: { kind: sniffed.kind },
    });
  }
  return sniffed.kind;
}
