/**
 * The binary COPY decoder of @lookalike/pg on hand-built streams: every split point (one byte at a
 * time), a header extension, chunking, and the malformed cases (INDEX_CORRUPT).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { LookalikeError } from '@lookalike/core';
import { CopyVectorDecoder, decodeVector, encodeVector, type VectorChunk } from '@lookalike/pg';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function copyStream(rows: [number, Float32Array | null][], opts: { extension?: Buffer; trailer?: boolean } = {}) {
  const parts: Buffer[] = [SIGNATURE];
  const head = Buffer.alloc(8);
  head.writeInt32BE(0, 0);
  head.writeInt32BE(opts.extension?.length ?? 0, 4);
  parts.push(head);
  if (opts.extension) parts.push(opts.extension);
  for (const [id, v] of rows) {
    const t = Buffer.alloc(2 + 4 + 8 + 4);
    t.writeInt16BE(2, 0);
    t.writeInt32BE(8, 2);
    t.writeBigInt64BE(BigInt(id), 6);
    t.writeInt32BE(v === null ? -1 : v.byteLength, 14);
    parts.push(t);
    if (v !== null) parts.push(encodeVector(v));
  }
  if (opts.trailer !== false) parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

async function decode(bytes: Buffer, step: number, chunkBytes?: number): Promise<VectorChunk[]> {
  const chunks: VectorChunk[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step) pieces.push(bytes.subarray(i, i + step));
  await pipeline(Readable.from(pieces), new CopyVectorDecoder((c) => void chunks.push(c), chunkBytes));
  return chunks;
}

const rows: [number, Float32Array][] = [
  [1, Float32Array.from([0.5, -1, 3])],
  [7, Float32Array.from([-0, Number.NaN, 1e-40])],
  [9_007_199_254_740_991, Float32Array.from([2, 4, 8])],
];

test('decodes ids and vectors whatever the split, and chunks by bytes', async () => {
  const bytes = copyStream(rows, { extension: Buffer.from('xyz') });
  for (const step of [1, 2, 3, 5, 7, 19, 64, bytes.length]) {
    const chunks = await decode(bytes, step, 24);
    // 24 bytes per chunk = 2 rows of 3 floats.
    assert.deepEqual(
      chunks.map((c) => c.count),
      [2, 1],
      `step ${step}`,
    );
    assert.deepEqual(
      chunks.flatMap((c) => [...c.ids]),
      [1, 7, 9_007_199_254_740_991],
    );
    const all = new Uint32Array(Uint8Array.from(Buffer.concat(chunks.map((c) => encodeVector(c.vectors)))).buffer);
    const want = new Uint32Array(Uint8Array.from(Buffer.concat(rows.map(([, v]) => encodeVector(v)))).buffer);
    assert.deepEqual(all, want, `step ${step}: bit-exact`);
  }
  assert.deepEqual(await decode(copyStream([]), 3), [], 'no rows, no chunk');
});

test('vectors round-trip through encode/decode', () => {
  const v = Float32Array.from([1, -2.5, Number.NaN]);
  const back = decodeVector(encodeVector(v));
  assert.deepEqual(new Uint32Array(back.buffer), new Uint32Array(v.buffer));
});

test('malformed streams fail with INDEX_CORRUPT', async () => {
  const corrupt = (err: unknown) => err instanceof LookalikeError && err.code === 'INDEX_CORRUPT';
  await assert.rejects(decode(copyStream(rows, { trailer: false }), 4), corrupt, 'no trailer');
  await assert.rejects(decode(copyStream([[1, Float32Array.from([1, 2])], ...rows]), 4), corrupt, 'mixed dimensions');
  await assert.rejects(decode(copyStream([[1, null]]), 4), corrupt, 'a null vector');
  const bad = copyStream(rows);
  bad[0] = 0x51;
  await assert.rejects(decode(bad, 4), corrupt, 'bad signature');
  assert.throws(() => decodeVector(Buffer.alloc(5)), corrupt);
});
