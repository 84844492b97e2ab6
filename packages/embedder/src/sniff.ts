/**
 * Image format sniffing from magic bytes. The file name and any declared content type are
 * never trusted: only the first bytes decide.
 */

/** Formats the embedder decodes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';

/** Things that are recognisably not a photo we decode. */
export type RejectedKind = 'svg' | 'pdf' | 'html' | 'xml' | 'text' | 'heic' | 'bmp' | 'unknown';

export type SniffResult =
  | { kind: 'image'; format: ImageFormat }
  /** Recognised as something we refuse (or not recognised at all). */
  | { kind: 'unsupported'; what: RejectedKind }
  /** Empty, or a strict prefix of a supported signature: a damaged/truncated file. */
  | { kind: 'truncated' };

const SIGNATURES: ReadonlyArray<{ format: ImageFormat; bytes: readonly number[] }> = [
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38] }, // "GIF8" (7a / 9a checked below)
  { format: 'tiff', bytes: [0x49, 0x49, 0x2a, 0x00] }, // "II*\0" little-endian
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] }, // "MM\0*" big-endian
  { format: 'tiff', bytes: [0x49, 0x49, 0x2b, 0x00] }, // BigTIFF LE
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2b] }, // BigTIFF BE
];

/** ISO-BMFF brands that are AV1 images (decodable by the bundled libheif + aom). */
const AVIF_BRANDS = new Set(['avif', 'avis']);
/** HEVC-coded HEIF brands: the prebuilt sharp has no HEVC decoder. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < Math.min(end, bytes.length); i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

function startsWith(bytes: Uint8Array, sig: readonly number[]): boolean {
  if (bytes.length < sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[i] !== sig[i]) return false;
  return true;
}

/** True when `bytes` is a non-empty strict prefix of `sig`. */
function isPrefixOf(bytes: Uint8Array, sig: readonly number[]): boolean {
  if (bytes.length === 0 || bytes.length >= sig.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== sig[i]) return false;
  return true;
}

function sniffIsoBmff(bytes: Uint8Array): SniffResult | null {
  if (bytes.length < 12 || ascii(bytes, 4, 8) !== 'ftyp') return null;
  const boxSize = ((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  const brands = [ascii(bytes, 8, 12)];
  // Compatible brands follow the 4-byte minor version.
  const end = Math.min(bytes.length, Math.max(boxSize, 16), 64);
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(bytes, i, i + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return { kind: 'image', format: 'avif' };
  if (brands.some((b) => HEIC_BRANDS.has(b) || b === 'mif1' || b === 'msf1'))
    return { kind: 'unsupported', what: 'heic' };
  return { kind: 'unsupported', what: 'unknown' };
}

/** Classifies text-looking content (SVG, HTML, XML, plain text) for a useful error. */
function sniffText(bytes: Uint8Array): RejectedKind {
  let head = ascii(bytes, 0, 1024);
  if (head.charCodeAt(0) === 0xef && head.charCodeAt(1) === 0xbb && head.charCodeAt(2) === 0xbf) head = head.slice(3);
  const lower = head.trimStart().toLowerCase();
  if (lower.includes('<svg')) return 'svg';
  if (
    lower.startsWith('<!doctype html') ||
    lower.startsWith('<html') ||
    lower.includes('<body') ||
    lower.includes('<head')
  )
    return 'html';
  if (lower.startsWith('<?xml') || lower.startsWith('<')) return 'xml';
  // Mostly printable ASCII/UTF-8 → text.
  let printable = 0;
  const n = Math.min(bytes.length, 1024);
  for (let i = 0; i < n; i++) {
    const c = bytes[i] ?? 0;
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 128) printable++;
  }
  return n > 0 && printable / n > 0.95 && !bytes.subarray(0, n).includes(0) ? 'text' : 'unknown';
}

/** Decides what `bytes` are from their first bytes only. */
export function sniffImage(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return { kind: 'truncated' };
  for (const { format, bytes: sig } of SIGNATURES) {
    if (startsWith(bytes, sig)) {
      if (format === 'gif') {
        const v = ascii(bytes, 4, 6);
        if (bytes.length >= 6 && v !== '7a' && v !== '9a') return { kind: 'unsupported', what: 'unknown' };
      }
      return { kind: 'image', format };
    }
  }
  if (ascii(bytes, 0, 4) === 'RIFF' && bytes.length >= 12) {
    return ascii(bytes, 8, 12) === 'WEBP'
      ? { kind: 'image', format: 'webp' }
      : { kind: 'unsupported', what: 'unknown' };
  }
  const iso = sniffIsoBmff(bytes);
  if (iso !== null) return iso;
  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'unsupported', what: 'pdf' };
  if (ascii(bytes, 0, 2) === 'BM') return { kind: 'unsupported', what: 'bmp' };
  // A few bytes that could still be the start of a supported signature: a cut-off file.
  if (SIGNATURES.some((s) => isPrefixOf(bytes, s.bytes))) return { kind: 'truncated' };
  if (bytes.length < 12 && (ascii(bytes, 0, 4) === 'RIFF'.slice(0, bytes.length) || ascii(bytes, 4, 8) === 'ftyp'))
    return { kind: 'truncated' };
  return { kind: 'unsupported', what: sniffText(bytes) };
}
