/**
 * Which format a feed is, from its first bytes (and its file name as a tie-breaker).
 */
import { bomLength, isGzip } from './bytes.js';
import { feedInvalid } from './codes.js';
import type { FeedFormat } from './types.js';

function extensionOf(name: string | undefined): string {
  if (name === undefined) return '';
  const path = name.replace(/[?#].*$/, '').toLowerCase();
  const m = /\.([a-z0-9]+)(?:\.gz)?$/.exec(path);
  return m?.[1] ?? '';
}

const BY_EXTENSION: Record<string, FeedFormat> = {
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  txt: 'tsv',
  json: 'json',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  xml: 'xml',
  rss: 'xml',
  atom: 'xml',
};

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** `{"products": […]}`: one key holding an array. Never a product (that needs an id and an image). */
function isWrapper(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const values = Object.values(value);
  return values.length === 1 && Array.isArray(values[0]);
}

/**
 * The format of a feed from its first bytes (a few KiB are plenty): `<` is XML (RSS 2.0 or Atom),
 * `[` a JSON array, `{` JSON Lines when the first line is a whole JSON value (else JSON, which
 * then fails as "not an array", as does a first line that is one object wrapping an array,
 * `{"products":[…]}`), anything else delimited text: TSV when the first line has tabs
 * (at least as many as commas), else CSV. The name's extension (`.tsv`, `.jsonl` …) decides
 * between JSON and JSON Lines and between CSV and TSV when the content cannot.
 * @throws LookalikeError FEED_INVALID for empty, binary, gzip (readFeed decompresses it itself),
 *   UTF-16 or single-column content.
 */
export function detectFeedFormat(head: Uint8Array, name?: string): FeedFormat {
  const ext = BY_EXTENSION[extensionOf(name)];
  if (isGzip(head)) throw feedInvalid('the feed is gzip-compressed (readFeed decompresses it)', { name });
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw feedInvalid('UTF-16 feeds are not supported: save the feed as UTF-8', { name });
  }
  let i = bomLength(head);
  while (i < head.length && isWhitespace(head[i] as number)) i++;
  if (i >= head.length) throw feedInvalid('the feed is empty', { name });
  const sample = head.subarray(i, Math.min(head.length, i + 4096));
  if (sample.includes(0)) throw feedInvalid('the feed is binary, not text', { name });
  const first = head[i];
  if (first === 0x3c /* < */) return 'xml';
  if (first === 0x5b /* [ */) return 'json';
  if (first === 0x7b /* { */) {
    if (ext === 'json' || ext === 'jsonl') return ext;
    const rest = Buffer.from(head.buffer, head.byteOffset + i, head.byteLength - i);
    const nl = rest.indexOf(0x0a);
    let value: unknown;
    try {
      value = JSON.parse(rest.subarray(0, nl < 0 ? rest.length : nl).toString('utf8'));
    } catch {
      // A first line longer than the head cannot be judged: JSON Lines; a broken one: JSON.
      return nl < 0 ? 'jsonl' : 'json';
    }
    return isWrapper(value) ? 'json' : 'jsonl';
  }
  const text = Buffer.from(head.buffer, head.byteOffset + i, head.byteLength - i);
  const nl = text.indexOf(0x0a);
  const line = text.subarray(0, nl < 0 ? text.length : nl).toString('utf8');
  const tabs = line.split('\t').length - 1;
  const commas = line.split(',').length - 1;
  if (ext === 'tsv' && tabs > 0) return 'tsv';
  if (ext === 'csv' && commas > 0) return 'csv';
  if (tabs > 0 && tabs >= commas) return 'tsv';
  if (commas > 0) return 'csv';
  throw feedInvalid(
    'unknown feed format: not XML, JSON, JSON Lines, CSV or TSV (a header row needs at least two columns)',
    { name },
  );
}
