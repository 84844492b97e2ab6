/**
 * Cuts delimited text (CSV/TSV bytes) into records before csv-parse reads their fields, so that
 * one broken row costs that row only:
 * - A record ends at a line feed outside quotes. A quote opens a field only at its start; `""`
 *   inside a quoted field is a quote; a closing quote must be followed by the delimiter or the
 *   end of the line (RFC 4180, csv-parse with relax_quotes off).
 * - A record with a stray quote, text after a closing quote, or a quote never closed is skipped
 *   with its reason. When such a record swallowed line feeds (the quote ran on), the text after
 *   its first line is read again as rows of its own: the rows after a broken quote are not lost.
 * - No record holds more than `maxRowBytes` (plus one 64 KiB piece): a longer one is skipped,
 *   so a quote that never closes cannot hold a 2 GB feed in memory.
 * Records come out without their line end (a CR before the LF is dropped); empty lines are skipped.
 */

export type CsvProblemReason = 'stray-quote' | 'text-after-quote' | 'unterminated-quote' | 'too-long';

export interface FramedRecord {
  /** 1-based line the record starts on. */
  line: number;
  bytes: Buffer;
}

export interface FramedProblem {
  line: number;
  reason: CsvProblemReason;
}

export type Framed = FramedRecord | FramedProblem;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const NEWLINE = Buffer.from([LF]);

export class CsvFramer {
  readonly #delim: number;
  readonly #max: number;
  readonly #queue: Buffer[] = [];
  #out: Framed[] = [];
  /** Line at the current position. */
  #line = 1;
  #recStart = 1;
  #parts: Buffer[] = [];
  #partsLen = 0;
  #inQuotes = false;
  #pendingQuote = false;
  #fieldStart = true;
  #problem: CsvProblemReason | undefined;
  /** A line feed inside quotes in this record. */
  #multiLine = false;
  /** Discarding to the next line feed (an over-long single line). */
  #skipping = false;

  constructor(delimiter: string, maxRowBytes: number) {
    if (delimiter.length !== 1) throw new RangeError('delimiter must be one character');
    this.#delim = delimiter.charCodeAt(0);
    this.#max = maxRowBytes;
  }

  /** Feeds bytes; returns the records and problems complete so far. */
  push(chunk: Buffer): Framed[] {
    this.#queue.push(chunk);
    this.#drain();
    return this.#take();
  }

  /** The input ended: returns the last record and problems. */
  end(): Framed[] {
    for (;;) {
      this.#drain();
      if (this.#skipping) {
        this.#skipping = false;
        this.#out.push({ line: this.#recStart, reason: 'too-long' });
        this.#reset();
        break;
      }
      if (this.#inQuotes && !this.#pendingQuote) {
        if (this.#resync('unterminated-quote', Buffer.alloc(0))) continue;
        this.#out.push({ line: this.#recStart, reason: 'unterminated-quote' });
        this.#reset();
        break;
      }
      if (this.#partsLen > 0 || this.#problem !== undefined) {
        if (this.#endRecord(Buffer.alloc(0))) continue;
      }
      break;
    }
    return this.#take();
  }

  #take(): Framed[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #reset(): void {
    this.#parts = [];
    this.#partsLen = 0;
    this.#inQuotes = false;
    this.#pendingQuote = false;
    this.#fieldStart = true;
    this.#problem = undefined;
    this.#multiLine = false;
    this.#recStart = this.#line;
  }

  #drain(): void {
    for (let buf = this.#queue.shift(); buf !== undefined; buf = this.#queue.shift()) this.#process(buf);
  }

  /**
   * Appends record bytes; false when the record became too long before its end (and was dealt
   * with: resynced after its first line, or its line dropped). A record that ends is judged by #endRecord.
   */
  #append(buf: Buffer, start: number, end: number, rest: Buffer, ending: boolean): boolean {
    if (end > start) {
      this.#parts.push(buf.subarray(start, end));
      this.#partsLen += end - start;
    }
    if (ending || this.#partsLen <= this.#max) return true;
    if (this.#multiLine && this.#resync(this.#inQuotes ? 'unterminated-quote' : 'too-long', rest)) return false;
    // One over-long physical line: drop it up to its line feed.
    this.#parts = [];
    this.#partsLen = 0;
    this.#skipping = true;
    this.#queue.unshift(rest);
    return false;
  }

  /**
   * Skips the record as `reason` and reads again what followed its first line (then `rest`).
   * False when the record has no line feed to resync after.
   */
  #resync(reason: CsvProblemReason, rest: Buffer): boolean {
    if (!this.#multiLine) return false;
    const bytes = Buffer.concat(this.#parts, this.#partsLen);
    const nl = bytes.indexOf(LF);
    if (nl < 0) return false;
    this.#out.push({ line: this.#recStart, reason });
    this.#line = this.#recStart + 1;
    this.#reset();
    this.#queue.unshift(bytes.subarray(nl + 1), rest);
    return true;
  }

  /** The record ended at a line feed (or the input's end). False when it was resynced instead of emitted. */
  #endRecord(rest: Buffer): boolean {
    if (this.#problem !== undefined) {
      if (this.#resync(this.#problem, Buffer.concat([NEWLINE, rest]))) {
        return false;
      }
      this.#out.push({ line: this.#recStart, reason: this.#problem });
      this.#reset();
      return true;
    }
    if (this.#partsLen > this.#max) {
      // Well-formed but too long (a huge quoted field): skipped whole, nothing read again.
      this.#out.push({ line: this.#recStart, reason: 'too-long' });
      this.#reset();
      return true;
    }
    let bytes = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#partsLen);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length > 0) this.#out.push({ line: this.#recStart, bytes });
    this.#reset();
    return true;
  }

  #process(buf: Buffer): void {
    const len = buf.length;
    const delim = this.#delim;
    let pos = 0;
    while (pos < len) {
      if (this.#skipping) {
        const nl = buf.indexOf(LF, pos);
        if (nl < 0) return;
        pos = nl + 1;
        this.#out.push({ line: this.#recStart, reason: 'too-long' });
        this.#skipping = false;
        this.#line++;
        this.#reset();
        continue;
      }
      if (!this.#inQuotes) {
        // Fast path: the rest of the line has no quote.
        const nl = buf.indexOf(LF, pos);
        const q = buf.indexOf(QUOTE, pos);
        if (q < 0 || (nl >= 0 && q > nl)) {
          const end = nl < 0 ? len : nl;
          if (end > pos) this.#fieldStart = buf[end - 1] === delim;
          if (!this.#append(buf, pos, end, buf.subarray(end), nl >= 0)) return;
          if (nl < 0) return;
          pos = nl + 1;
          this.#line++;
          if (!this.#endRecord(buf.subarray(pos))) return;
          continue;
        }
      }
      // Byte by byte to the end of the record or of this piece.
      const segStart = pos;
      let ended = false;
      for (; pos < len; pos++) {
        const c = buf[pos] as number;
        if (this.#inQuotes) {
          if (this.#pendingQuote) {
            this.#pendingQuote = false;
            if (c === QUOTE) continue;
            this.#inQuotes = false;
            if (c === delim) {
              this.#fieldStart = true;
              continue;
            }
            if (c === LF) {
              ended = true;
              break;
            }
            if (c !== CR) this.#problem ??= 'text-after-quote';
            this.#fieldStart = false;
            continue;
          }
          if (c === QUOTE) this.#pendingQuote = true;
          else if (c === LF) {
            this.#line++;
            this.#multiLine = true;
          }
          continue;
        }
        if (c === LF) {
          ended = true;
          break;
        }
        if (c === QUOTE) {
          if (this.#fieldStart) {
            this.#inQuotes = true;
            this.#fieldStart = false;
          } else this.#problem ??= 'stray-quote';
          continue;
        }
        this.#fieldStart = c === delim;
      }
      if (!this.#append(buf, segStart, pos, buf.subarray(pos), ended)) return;
      if (!ended) return;
      pos++;
      this.#line++;
      if (!this.#endRecord(buf.subarray(pos))) return;
    }
  }
}
