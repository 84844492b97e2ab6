/**
 * CSV/TSV records: cut by CsvFramer (bounded, one broken row costs one row), fields read by
 * csv-parse (RFC 4180, relax_quotes off) in batches of about 256 KiB.
 */
import { type Options, parse } from 'csv-parse/sync';
import { CsvFramer, type CsvProblemReason, type Framed, type FramedRecord } from './csv-framer.js';

/** One record's fields with the (1-based) line it starts on. */
export interface CsvRow {
  line: number;
  fields: string[];
}

/** A record that could not be read; the ones after it are read as usual. */
export interface CsvProblem {
  line: number;
  reason: CsvProblemReason | 'invalid';
  message: string;
}

export interface CsvOptions {
  /** @defaultValue "," */
  delimiter?: string;
  /** Longest record in bytes. @defaultValue 1 MiB */
  maxRowBytes?: number;
}

export const DEFAULT_MAX_ROW_BYTES = 1024 * 1024;
const BATCH_BYTES = 256 * 1024;
const NEWLINE = Buffer.from('\n');

export function isCsvProblem(x: CsvRow | CsvProblem): x is CsvProblem {
  return 'reason' in x;
}

function problemMessage(reason: CsvProblemReason, maxRowBytes: number): string {
  switch (reason) {
    case 'stray-quote':
      return 'a quote inside an unquoted field (quote the whole field and double the quote)';
    case 'text-after-quote':
      return 'text after a closing quote';
    case 'unterminated-quote':
      return 'a quoted field is not closed';
    case 'too-long':
      return `the row is longer than ${maxRowBytes} bytes`;
  }
}

/** Reads fields with csv-parse, a batch at a time; a record csv-parse refuses is a problem. */
class FieldReader {
  readonly #options: Options;
  readonly #maxRowBytes: number;
  #batch: FramedRecord[] = [];
  #batchBytes = 0;

  constructor(delimiter: string, maxRowBytes: number) {
    this.#maxRowBytes = maxRowBytes;
    this.#options = {
      delimiter,
      quote: '"',
      escape: '"',
      record_delimiter: '\n',
      relax_quotes: false,
      relax_column_count: true,
      skip_empty_lines: false,
      bom: false,
      encoding: 'utf8',
    };
  }

  /** Adds framed output; returns rows and problems in order once a batch is full (or `flush`). */
  add(framed: readonly Framed[], out: (CsvRow | CsvProblem)[]): void {
    for (const f of framed) {
      if ('reason' in f) {
        this.flush(out);
        out.push({ line: f.line, reason: f.reason, message: problemMessage(f.reason, this.#maxRowBytes) });
        continue;
      }
      this.#batch.push(f);
      this.#batchBytes += f.bytes.length + 1;
      if (this.#batchBytes >= BATCH_BYTES) this.flush(out);
    }
  }

  flush(out: (CsvRow | CsvProblem)[]): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    const parts: Buffer[] = [];
    for (const r of batch) parts.push(r.bytes, NEWLINE);
    let records: string[][] | undefined;
    try {
      records = parse(Buffer.concat(parts), this.#options) as string[][];
    } catch {
      records = undefined;
    }
    if (records !== undefined && records.length === batch.length) {
      for (let i = 0; i < batch.length; i++)
        out.push({ line: (batch[i] as FramedRecord).line, fields: records[i] as string[] });
      return;
    }
    // Rare: csv-parse refused something the framer let through (e.g. a CR after a closing quote). One by one.
    for (const r of batch) {
      try {
        const one = parse(Buffer.concat([r.bytes, NEWLINE]), this.#options) as string[][];
        if (one.length === 1) out.push({ line: r.line, fields: one[0] as string[] });
        else
          out.push({ line: r.line, reason: 'invalid', message: `csv-parse read ${one.length} records from one row` });
      } catch (err) {
        out.push({ line: r.line, reason: 'invalid', message: (err as Error).message });
      }
    }
  }
}

/** Streams CSV/TSV rows (and per-row problems) from bytes; memory is bounded by maxRowBytes. */
export async function* csvRows(
  chunks: AsyncIterable<Uint8Array>,
  options: CsvOptions = {},
): AsyncGenerator<CsvRow | CsvProblem> {
  const delimiter = options.delimiter ?? ',';
  const max = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  const framer = new CsvFramer(delimiter, max);
  const reader = new FieldReader(delimiter, max);
  const out: (CsvRow | CsvProblem)[] = [];
  for await (const chunk of chunks) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    reader.add(framer.push(buf), out);
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  reader.add(framer.end(), out);
  reader.flush(out);
  yield* out;
}

/**
 * The same, synchronously, for text already in memory (a labels file). A leading BOM is dropped.
 */
export function parseCsvText(text: string | Uint8Array, options: CsvOptions = {}): (CsvRow | CsvProblem)[] {
  let buf =
    typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  const delimiter = options.delimiter ?? ',';
  const max = options.maxRowBytes ?? Number.MAX_SAFE_INTEGER;
  const framer = new CsvFramer(delimiter, max);
  const reader = new FieldReader(delimiter, max);
  const out: (CsvRow | CsvProblem)[] = [];
  reader.add(framer.push(buf), out);
  reader.add(framer.end(), out);
  reader.flush(out);
  return out;
}
