/**
 * JSON Lines: one product object per line, each parsed by stream-json's per-line JSONL parser.
 * Lines are cut here so that none holds more than `maxRowBytes`: a longer one, a bad one or one
 * that is not an object is a skipped row, and the next line is read as usual.
 */
import { jsonlParser } from 'stream-json/jsonl/parser.js';
import { type FeedRowSkip, skip } from './codes.js';
import { type RawRecord, recordOf } from './product.js';

const LF = 0x0a;
const BAD = Symbol('bad line');

function asText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if ((typeof o.value === 'string' || typeof o.value === 'number') && typeof o.currency === 'string') {
      return `${o.value} ${o.currency}`;
    }
  }
  return JSON.stringify(v);
}

/** A parsed line's keys and values (arrays become lists of text). */
export function plainRecord(obj: Record<string, unknown>, line: number): RawRecord {
  return recordOf(Object.entries(obj), asText, line);
}

export async function* jsonlRecords(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRowBytes: number },
): AsyncGenerator<RawRecord | FeedRowSkip> {
  const max = options.maxRowBytes;
  const parseLine = jsonlParser({ errorIndicator: () => BAD });
  let parts: Buffer[] = [];
  let partsLen = 0;
  let line = 1;
  let tooLong = false;

  const finish = (bytes: Buffer): RawRecord | FeedRowSkip | undefined => {
    const at = line;
    line++;
    if (tooLong) {
      tooLong = false;
      return skip(at, 'FEED_ROW_MALFORMED', `line ${at} is longer than ${max} bytes`);
    }
    const text = bytes.toString('utf8').trim();
    if (text === '') return undefined;
    const item = parseLine(text);
    const value = typeof item === 'symbol' ? BAD : (item as { value: unknown }).value;
    if (value === BAD) return skip(at, 'FEED_ROW_MALFORMED', `line ${at} is not valid JSON`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return skip(at, 'FEED_ROW_MALFORMED', `line ${at} is not a JSON object`);
    }
    return plainRecord(value as Record<string, unknown>, at);
  };

  for await (const chunk of chunks) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(LF, pos);
      const end = nl < 0 ? buf.length : nl;
      if (!tooLong) {
        parts.push(buf.subarray(pos, end));
        partsLen += end - pos;
        if (partsLen > max) {
          tooLong = true;
          parts = [];
          partsLen = 0;
        }
      }
      if (nl < 0) break;
      pos = nl + 1;
      const row = finish(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, partsLen));
      parts = [];
      partsLen = 0;
      if (row !== undefined) yield row;
    }
  }
  if (partsLen > 0 || tooLong) {
    const row = finish(Buffer.concat(parts, partsLen));
    if (row !== undefined) yield row;
  }
}
