/**
 * Hostile inputs through the real service (untrained ResNet50 on ORT, SQLite + FAISS catalog,
 * sharp): each gets its code, the process stays up, memory stays bounded.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { crc32, createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { listenOnLoopback } from '../helpers/net.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A width×height RGB PNG whose rows are all zero: ~1.2 GB of pixels for 20000², but only a
 * megabyte or so on disk. Built by streaming one reused zero row through deflate.
 */
async function pngBomb(width: number, height: number): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3); // filter byte 0 + zero pixels
  const deflate = createDeflate({ level: 1 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  for (let y = 0; y < height; y++) {
    if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.concat(out)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 1,000-frame animated GIF (32×32 frames, each different). */
async function thousandFrameGif(): Promise<Buffer> {
  const w = 32;
  const h = 32;
  const n = 1000;
  const buf = Buffer.alloc(w * h * n * 3);
  for (let i = 0; i < n; i++) {
    const off = i * w * h * 3;
    for (let p = 0; p < w * h; p++) {
      const on = (p + i) % 7 === 0;
      buf[off + p * 3] = on ? 255 : (i * 3) % 256;
      buf[off + p * 3 + 1] = on ? 0 : (i * 5) % 256;
      buf[off + p * 3 + 2] = (p * i) % 256;
    }
  }
  return sharp(buf, { raw: { width: w, height: h * n, channels: 3, pageHeight: h } })
    .gif({ delay: 20, effort: 1 })
    .toBuffer();
}

describe('hostile inputs through the real service', () => {
  let stack: TestStack;
  let server: Server;
  let port = 0;
  const hits: string[] = [];
  let rssBefore = 0;
  let validJpeg: Buffer;

  before(async () => {
    stack = await createTestStack({ catalogSize: 16 });
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/login.jpg') {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end('<!doctype html><html><body><form>Sign in to your workspace</form></body></html>');
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://localhost:${port}/ok.png` });
        res.end();
      } else if (req.url === '/drawing.svg') {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end(svgWithExternalRef());
      } else {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      }
    });
    port = await listenOnLoopback(server);
    const first = stack.items.find((i) => i.path.endsWith('.jpg'));
    assert.ok(first !== undefined);
    validJpeg = await readFile(first.path);
    // Warm up (model, thread pools) so the RSS baseline is steady state.
    await stack.service.findSimilar(validJpeg, { userId: 'warmup' });
    global.gc?.();
    rssBefore = process.memoryUsage().rss;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await stack?.close();
  });

  const svgWithExternalRef = () =>
    `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="400" height="400">
  <image href="http://127.0.0.1:${port}/x" width="400" height="400"/>
  <image xlink:href="http://127.0.0.1:${port}/y.png" width="10" height="10"/>
  <rect width="100" height="100" fill="red"/>
</svg>`;

  test('GIVEN a truncated JPEG THEN IMAGE_DECODE_FAILED', async () => {
    const truncated = validJpeg.subarray(0, Math.floor(validJpeg.length * 0.6));
    await rejectsWith(stack.service.findSimilar(truncated, { userId: 'h1' }), 'IMAGE_DECODE_FAILED');
  });

  test('GIVEN a 0-byte file THEN UNSUPPORTED_IMAGE', async () => {
    await rejectsWith(stack.service.findSimilar(new Uint8Array(0), { userId: 'h2' }), 'UNSUPPORTED_IMAGE');
  });

  test('GIVEN a text file named .jpg THEN UNSUPPORTED_IMAGE', async () => {
    const text = Buffer.from('holiday-photo.jpg\nThis is just a note, not a photo.\n'.repeat(20));
    await rejectsWith(stack.service.findSimilar(text, { userId: 'h3' }), 'UNSUPPORTED_IMAGE');
  });

  test('GIVEN an HTML page served as image/jpeg with 200 THEN FETCH_NOT_IMAGE', async () => {
    await rejectsWith(stack.service.fetchImage(`http://127.0.0.1:${port}/login.jpg`), 'FETCH_NOT_IMAGE');
  });

  test('GIVEN SVGs (one with external references) THEN UNSUPPORTED_IMAGE and the referenced URLs are never requested', async () => {
    const plain = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"><circle r="20"/></svg>');
    await rejectsWith(stack.service.findSimilar(plain, { userId: 'h4' }), 'UNSUPPORTED_IMAGE');
    await rejectsWith(
      stack.service.findSimilar(Buffer.from(svgWithExternalRef()), { userId: 'h4' }),
      'UNSUPPORTED_IMAGE',
    );
    await rejectsWith(stack.service.fetchImage(`http://127.0.0.1:${port}/drawing.svg`), 'UNSUPPORTED_IMAGE');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      hits.filter((h) => h === '/x' || h === '/y.png'),
      [],
      'the SVG external references were fetched',
    );
  });

  test('GIVEN a 20000×20000 PNG decompression bomb THEN IMAGE_TOO_LARGE without decoding it', async () => {
    const bomb = await pngBomb(20_000, 20_000);
    assert.ok(bomb.length < 5 * 1024 * 1024, `bomb is ${bomb.length} bytes`);
    const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
    assert.equal(meta.width, 20_000);
    assert.equal(meta.height, 20_000);
    const err = await rejectsWith(stack.service.findSimilar(bomb, { userId: 'h5' }), 'IMAGE_TOO_LARGE');
    assert.equal(err.details.width, 20_000);
  });

  test('GIVEN a 1,000-frame GIF THEN it is answered from its first frame', async () => {
    const gif = await thousandFrameGif();
    const meta = await sharp(gif).metadata();
    assert.equal(meta.pages, 1000);
    const answer = await stack.service.findSimilar(gif, { userId: 'h6' });
    assert.equal(answer.results.length, 6);
    // The vector is the first frame's: the same as embedding that frame alone.
    const firstFrame = await sharp(gif, { pages: 1 }).png().toBuffer();
    const [a] = await stack.embedder.embed([gif]);
    const [b] = await stack.embedder.embed([firstFrame]);
    assert.ok(a !== undefined && b !== undefined);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    assert.ok(maxDiff < 1e-4, `GIF vector differs from its first frame by ${maxDiff}`);
  });

  test('GIVEN an image over the byte limit THEN IMAGE_TOO_LARGE', async () => {
    const huge = Buffer.alloc(21 * 1024 * 1024);
    validJpeg.copy(huge);
    await rejectsWith(stack.service.findSimilar(huge, { userId: 'h7' }), 'IMAGE_TOO_LARGE');
  });

  test('GIVEN a valid image on a host off the allowlist, or redirected off it THEN HOST_NOT_ALLOWED', async () => {
    await rejectsWith(stack.service.fetchImage(`http://localhost:${port}/ok.png`), 'HOST_NOT_ALLOWED');
    await rejectsWith(stack.service.fetchImage(`http://127.0.0.1:${port}/redirect`), 'HOST_NOT_ALLOWED');
    assert.equal(hits.filter((h) => h === '/ok.png').length, 0);
  });

  test('AFTER all of them THEN the service still answers and RSS growth stays bounded', async () => {
    const answer = await stack.service.findSimilar(validJpeg, { userId: 'h8' });
    assert.equal(answer.results.length, 6);
    global.gc?.();
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 300 * 1024 * 1024, `RSS grew by ${(growth / 1024 / 1024).toFixed(0)} MB`);
    assert.equal(stack.service.status().inFlight, 0);
  });
});
