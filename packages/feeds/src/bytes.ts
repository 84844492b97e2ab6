/**
 * The feed's bytes: a look at the head (for format detection) without losing it, gzip taken off
 * transparently, a UTF-8 BOM dropped, and chunks cut to at most 64 KiB so no parser ever holds
 * more than that at once beyond its own row.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { feedInvalid } from './codes.js';

/** Largest piece handed to a parser at once. */
export const PIECE_BYTES = 64 * 1024;

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Pulls from an async iterable of bytes, keeping what `head()` read for `chunks()`. */
export class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>;
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  #done = false;

  constructor(input: AsyncIterable<Uint8Array>) {
    this.#it = input[Symbol.asyncIterator]();
  }

  /** At least `min` bytes from the start (fewer at the end of the input), copied. */
  async head(min: number): Promise<Buffer> {
    while (this.#pendingBytes < min && !this.#done) {
      const next = await this.#it.next();
      if (next.done === true) {
        this.#done = true;
        break;
      }
      const buf = asBuffer(next.value);
      if (buf.length === 0) continue;
      this.#pending.push(buf);
      this.#pendingBytes += buf.length;
    }
    return Buffer.concat(this.#pending, this.#pendingBytes);
  }

  /** Drops `n` bytes from the start (a BOM), which head() must have read. */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.#pending[0];
      if (first === undefined) return;
      if (first.length <= left) {
        this.#pending.shift();
        left -= first.length;
        this.#pendingBytes -= first.length;
      } else {
        this.#pending[0] = first.subarray(left);
        this.#pendingBytes -= left;
        left = 0;
      }
    }
  }

  /** Closes the input without reading on (the feed was refused before its rows were read). */
  async close(): Promise<void> {
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    if (this.#done) return;
    this.#done = true;
    await this.#it.return?.();
  }

  /** Everything (head included), in pieces of at most PIECE_BYTES. Closes the input when left early. */
  async *chunks(): AsyncGenerator<Buffer> {
    try {
      while (this.#pending.length > 0) {
        const buf = this.#pending.shift() as Buffer;
        this.#pendingBytes -= buf.length;
        yield* pieces(buf);
      }
      while (!this.#done) {
        const next = await this.#it.next();
        if (next.done === true) {
          this.#done = true;
          break;
        }
        yield* pieces(asBuffer(next.value));
      }
    } finally {
      if (!this.#done) {
        this.#done = true;
        await this.#it.return?.();
      }
    }
  }
}

function* pieces(buf: Buffer): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += PIECE_BYTES) yield buf.subarray(at, at + PIECE_BYTES);
}

export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** The decompressed bytes of a gzip stream; a corrupt one is FEED_INVALID, a source error passes as is. */
export async function* gunzip(source: AsyncIterable<Uint8Array>, name?: string): AsyncGenerator<Buffer> {
  let sourceError: unknown;
  let failed = false;
  const input = Readable.from(source, { objectMode: false });
  const z = createGunzip();
  input.on('error', (err) => {
    failed = true;
    sourceError = err;
    z.destroy(err);
  });
  input.pipe(z);
  try {
    for await (const chunk of z) yield* pieces(chunk as Buffer);
  } catch (err) {
    if (failed) throw sourceError;
    throw feedInvalid(`not valid gzip: ${(err as Error).message}`, { name }, err);
  } finally {
    input.destroy();
    z.destroy();
    // Readable.from closes the source asynchronously: wait, so a refused or abandoned feed has
    // released its input (a download) by the time readFeed returns.
    if (!input.closed) await new Promise((resolve) => input.once('close', resolve));
  }
}

/** Length of a leading UTF-8 BOM (0 or 3). */
export function bomLength(head: Uint8Array): number {
  return head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
}
