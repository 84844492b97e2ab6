import { endianness } from 'node:os';
import { Writable } from 'node:stream';
import { LookalikeError } from '@lookalike/core';

/**
 * Vectors are stored as `bytea`: the float32 values in little-endian order, 4 bytes each, so a
 * replica copies them straight into a Float32Array. Only little-endian hosts are supported.
 */
function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new LookalikeError('INTERNAL', '@lookalike/pg needs a little-endian host');
}

export function encodeVector(v: Float32Array): Buffer {
  assertLittleEndian();
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function decodeVector(b: Uint8Array): Float32Array {
  assertLittleEndian();
  if (b.byteLength % 4 !== 0) throw new LookalikeError('INDEX_CORRUPT', `stored vector of ${b.byteLength} bytes`);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** A run of rows from `loadVectors`: `ids[i]` is the item id of row i, `vectors` holds `count × dimension` floats. */
export interface VectorChunk {
  ids: Float64Array;
  vectors: Float32Array;
  count: number;
  dimension: number;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

type State = 'header' | 'extension' | 'tuple' | 'idLength' | 'id' | 'vectorLength' | 'vector' | 'done';

/**
 * Decodes `COPY (SELECT id, vector …) TO STDOUT (FORMAT binary)` as it streams: ids (int8) and
 * vector bytes are written straight into preallocated typed arrays, `chunkBytes` of vectors per
 * chunk, with no per-row JS objects. `onChunk` may be async; the stream waits for it (backpressure).
 */
export class CopyVectorDecoder extends Writable {
  readonly #onChunk: (chunk: VectorChunk) => void | Promise<void>;
  readonly #chunkBytes: number;
  #state: State = 'header';
  #small = Buffer.alloc(19);
  #have = 0;
  #skip = 0;
  #dimension: number | undefined;
  #rowsPerChunk = 0;
  #ids: Float64Array | undefined;
  #vectors: Float32Array | undefined;
  #bytes: Uint8Array | undefined;
  #row = 0;
  #vecFill = 0;
  #vecLength = 0;
  #rows = 0;
  #ready: VectorChunk[] = [];

  constructor(onChunk: (chunk: VectorChunk) => void | Promise<void>, chunkBytes = 16 * 1024 * 1024) {
    super();
    assertLittleEndian();
    this.#onChunk = onChunk;
    this.#chunkBytes = chunkBytes;
  }

  /** Rows decoded so far. */
  get rows(): number {
    return this.#rows;
  }

  get dimension(): number | undefined {
    return this.#dimension;
  }

  /** Copies into the small buffer until it holds `n` bytes; returns the new offset into `buf`. */
  #take(buf: Buffer, at: number, n: number): number {
    const k = Math.min(n - this.#have, buf.length - at);
    buf.copy(this.#small, this.#have, at, at + k);
    this.#have += k;
    return at + k;
  }

  #fail(message: string): never {
    throw new LookalikeError('INDEX_CORRUPT', `binary COPY of vectors: ${message}`);
  }

  #emit(): void {
    if (this.#row === 0 || this.#ids === undefined || this.#vectors === undefined) return;
    const d = this.#dimension!;
    const count = this.#row;
    const full = count === this.#rowsPerChunk;
    this.#ready.push({
      ids: full ? this.#ids : this.#ids.slice(0, count),
      vectors: full ? this.#vectors : this.#vectors.slice(0, count * d),
      count,
      dimension: d,
    });
    this.#ids = undefined;
    this.#vectors = undefined;
    this.#bytes = undefined;
    this.#row = 0;
  }

  #parse(buf: Buffer): void {
    let at = 0;
    while (at < buf.length) {
      switch (this.#state) {
        case 'header': {
          at = this.#take(buf, at, 19);
          if (this.#have < 19) return;
          if (!this.#small.subarray(0, 11).equals(SIGNATURE)) this.#fail('bad signature');
          this.#skip = this.#small.readInt32BE(15);
          this.#have = 0;
          this.#state = this.#skip > 0 ? 'extension' : 'tuple';
          break;
        }
        case 'extension': {
          const k = Math.min(this.#skip, buf.length - at);
          at += k;
          this.#skip -= k;
          if (this.#skip === 0) this.#state = 'tuple';
          break;
        }
        case 'tuple': {
          at = this.#take(buf, at, 2);
          if (this.#have < 2) return;
          const fields = this.#small.readInt16BE(0);
          this.#have = 0;
          if (fields === -1) this.#state = 'done';
          else if (fields !== 2) this.#fail(`expected 2 columns (id, vector), got ${fields}`);
          else this.#state = 'idLength';
          break;
        }
        case 'idLength': {
          at = this.#take(buf, at, 4);
          if (this.#have < 4) return;
          if (this.#small.readInt32BE(0) !== 8) this.#fail('id is not an int8');
          this.#have = 0;
          this.#state = 'id';
          break;
        }
        case 'id': {
          at = this.#take(buf, at, 8);
          if (this.#have < 8) return;
          const id = this.#small.readBigInt64BE(0);
          this.#have = 0;
          this.#state = 'vectorLength';
          // Written once the vector's length is known (the chunk is allocated then).
          this.#small.writeBigInt64BE(id, 8);
          break;
        }
        case 'vectorLength': {
          // The id waits in #small[8..16); the length is read into #small[0..4).
          at = this.#take(buf, at, 4);
          if (this.#have < 4) return;
          const length = this.#small.readInt32BE(0);
          this.#have = 0;
          if (length < 0) this.#fail('a live item has no vector');
          if (length === 0 || length % 4 !== 0) this.#fail(`vector of ${length} bytes`);
          if (this.#dimension === undefined) {
            this.#dimension = length / 4;
            this.#rowsPerChunk = Math.max(1, Math.floor(this.#chunkBytes / length));
          } else if (length !== this.#dimension * 4) {
            this.#fail(`vector of ${length / 4} values among vectors of ${this.#dimension}`);
          }
          if (this.#ids === undefined) {
            this.#ids = new Float64Array(this.#rowsPerChunk);
            this.#vectors = new Float32Array(this.#rowsPerChunk * this.#dimension);
            this.#bytes = new Uint8Array(this.#vectors.buffer);
          }
          this.#ids[this.#row] = Number(this.#small.readBigInt64BE(8));
          this.#vecLength = length;
          this.#vecFill = 0;
          this.#state = 'vector';
          break;
        }
        case 'vector': {
          const k = Math.min(this.#vecLength - this.#vecFill, buf.length - at);
          this.#bytes!.set(buf.subarray(at, at + k), this.#row * this.#vecLength + this.#vecFill);
          at += k;
          this.#vecFill += k;
          if (this.#vecFill === this.#vecLength) {
            this.#row++;
            this.#rows++;
            this.#state = 'tuple';
            if (this.#row === this.#rowsPerChunk) this.#emit();
          }
          break;
        }
        case 'done':
          return;
      }
    }
  }

  async #drain(): Promise<void> {
    while (this.#ready.length > 0) await this.#onChunk(this.#ready.shift()!);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.#parse(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.#drain().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#state !== 'done') {
      callback(new LookalikeError('INDEX_CORRUPT', 'binary COPY of vectors ended before its trailer'));
      return;
    }
    this.#emit();
    this.#drain().then(() => callback(), callback);
  }
}
