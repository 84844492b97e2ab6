/**
 * Preprocessing with real sharp: format detection (core's sniffer), decoding, orientation, alpha, first GIF frame,
 * PIL-exact nearest-neighbour resize, caffe constants, limits and error codes.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodableKind, sniff, USER_MESSAGES } from '@lookalike/core';
import {
  CAFFE_MEAN_BGR,
  decodeRgb,
  INPUT_LENGTH,
  pilNearestIndices,
  preprocessImage,
  preprocessToRgb,
} from '@lookalike/embedder';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { blocky, bombPng, FIXTURES_DIR, fromRaw, raw, rotateCcw } from './fixtures.js';

/** Pixel (x, y) of a 224×224 caffe tensor as [B, G, R] offsets. */
function tensorAt(t: Float32Array, x: number, y: number): number[] {
  const o = (y * 224 + x) * 3;
  return [t[o] ?? Number.NaN, t[o + 1] ?? Number.NaN, t[o + 2] ?? Number.NaN];
}

/** Coordinates are encoded in the colour: R = x, G = y (images up to 256 px). */
function coordImage(w: number, h: number) {
  return raw(w, h, 3, (x, y) => [x, y, 77]);
}

describe('format detection (core sniff)', () => {
  test('GIVEN the magic bytes of each supported format THEN core sniff names it and it decodes, whatever the name', async () => {
    const base = fromRaw(coordImage(16, 16));
    const cases = [
      ['jpeg', await base.clone().jpeg().toBuffer()],
      ['png', await base.clone().png().toBuffer()],
      ['webp', await base.clone().webp().toBuffer()],
      ['gif', await base.clone().gif().toBuffer()],
      ['tiff', await base.clone().tiff().toBuffer()],
      ['avif', await base.clone().avif().toBuffer()],
    ] as const;
    for (const [format, bytes] of cases) {
      assert.deepEqual(sniff(bytes), { kind: format, image: true }, format);
      assert.equal(decodableKind(bytes), format);
      const { width, height } = await decodeRgb(bytes);
      assert.deepEqual([width, height], [16, 16], format);
    }
  });

  test('GIVEN SVG, HTML, XML, text, PDF and random bytes THEN UNSUPPORTED_IMAGE naming what core sniff saw', async () => {
    const cases: string[] = [
      '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>',
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
      '<!DOCTYPE html><html><head><title>x</title></head><body></body></html>',
      '<?xml version="1.0"?><feed></feed>',
      'just some words, not a picture\n',
      '%PDF-1.7\n%\u00e2\u00e3\n1 0 obj\n',
    ];
    const inputs = [
      ...cases.map((c) => Buffer.from(c, 'latin1')),
      Buffer.from([0, 1, 2, 3, 250, 251, 0, 0, 9, 8, 7, 6, 5, 4]),
    ];
    for (const bytes of inputs) {
      const seen = sniff(bytes);
      assert.equal(seen.image, false);
      const err = await rejectsWith(decodeRgb(bytes), 'UNSUPPORTED_IMAGE');
      assert.equal(err.details.kind, seen.kind);
    }
  });

  test('GIVEN a cut-off JPEG or PNG signature THEN UNSUPPORTED_IMAGE (core sniff sees no image in it)', async () => {
    for (const bytes of [Buffer.from([0xff, 0xd8]), Buffer.from([0x89, 0x50, 0x4e])]) {
      const seen = sniff(bytes);
      assert.equal(seen.image, false, `${bytes.toString('hex')} is ${seen.kind}`);
      const err = await rejectsWith(preprocessImage(bytes), 'UNSUPPORTED_IMAGE');
      assert.equal(err.details.kind, seen.kind);
    }
  });

  test('GIVEN a HEIC container with no readable image THEN IMAGE_DECODE_FAILED (HEIC is decodable: heic.test.ts)', async () => {
    // ftyp box, major brand heic, compatible brands mif1 + heic, then junk.
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic', 'latin1'),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from('mif1heic', 'latin1'),
      Buffer.alloc(200, 7),
    ]);
    assert.deepEqual(sniff(heic), { kind: 'heic', image: true });
    assert.equal(decodableKind(heic), 'heic');
    const err = await rejectsWith(preprocessImage(heic), 'IMAGE_DECODE_FAILED');
    assert.equal(err.details.format, 'heic');
    assert.equal(err.userMessage, USER_MESSAGES.IMAGE_DECODE_FAILED);
  });

  test('GIVEN empty bytes THEN UNSUPPORTED_IMAGE, as on the answer path (one decision, in core)', async () => {
    await rejectsWith(decodeRgb(new Uint8Array(0)), 'UNSUPPORTED_IMAGE');
  });
});

describe('decoding', () => {
  test('GIVEN every supported format THEN it decodes to 3-channel 8-bit RGB of the right size', async () => {
    const img = fromRaw(blocky(48, 32, 8));
    const encoded = await Promise.all([
      img.clone().jpeg({ chromaSubsampling: '4:4:4', quality: 100 }).toBuffer(),
      img.clone().png().toBuffer(),
      img.clone().webp({ lossless: true }).toBuffer(),
      img.clone().gif().toBuffer(),
      img.clone().tiff().toBuffer(),
      img.clone().avif({ lossless: true }).toBuffer(),
    ]);
    for (const bytes of encoded) {
      const rgb = await decodeRgb(bytes);
      assert.equal(rgb.width, 48);
      assert.equal(rgb.height, 32);
      assert.equal(rgb.data.length, 48 * 32 * 3);
    }
  });

  test('GIVEN greyscale, 16-bit and CMYK images THEN they become 3-channel sRGB', async () => {
    const grey = await sharp({ create: { width: 10, height: 10, channels: 3, background: { r: 100, g: 100, b: 100 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const grey16 = await sharp({
      create: { width: 10, height: 10, channels: 3, background: { r: 100, g: 100, b: 100 } },
    })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    for (const bytes of [grey, grey16]) {
      const rgb = await decodeRgb(bytes);
      assert.deepEqual([...rgb.data.subarray(0, 3)], [100, 100, 100]);
    }
    const cmyk = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#3080c0' } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const rgb = await decodeRgb(cmyk);
    assert.equal(rgb.data.length, 300);
    // Round trip through CMYK profiles is close to, not exactly, the original colour.
    const [r, g, b] = rgb.data;
    assert.ok(
      Math.abs((r ?? 0) - 0x30) < 20 && Math.abs((g ?? 0) - 0x80) < 20 && Math.abs((b ?? 0) - 0xc0) < 20,
      `${r},${g},${b}`,
    );
  });

  test('GIVEN an RGBA PNG THEN transparent pixels become white (white minus the mean in the tensor)', async () => {
    // Left half fully transparent red, right half opaque blue.
    const png = await fromRaw(raw(224, 224, 4, (x) => (x < 112 ? [255, 0, 0, 0] : [0, 0, 255, 255])))
      .png()
      .toBuffer();
    const t = await preprocessImage(png);
    const white = [255 - CAFFE_MEAN_BGR[0], 255 - CAFFE_MEAN_BGR[1], 255 - CAFFE_MEAN_BGR[2]];
    for (const [x, y] of [
      [0, 0],
      [50, 100],
      [111, 223],
    ] as const) {
      tensorAt(t, x, y).forEach((v, c) => {
        assert.ok(Math.abs(v - (white[c] ?? 0)) < 1e-4, `(${x},${y}) c${c}: ${v}`);
      });
    }
    const blue = [255 - CAFFE_MEAN_BGR[0], 0 - CAFFE_MEAN_BGR[1], 0 - CAFFE_MEAN_BGR[2]];
    tensorAt(t, 200, 10).forEach((v, c) => {
      assert.ok(Math.abs(v - (blue[c] ?? 0)) < 1e-4, `blue c${c}: ${v}`);
    });
  });

  test('GIVEN a semi-transparent pixel THEN it is blended onto white', async () => {
    const png = await fromRaw(raw(4, 4, 4, () => [0, 0, 0, 128]))
      .png()
      .toBuffer();
    const rgb = await decodeRgb(png);
    // 50% black over white ≈ 127.
    for (const v of rgb.data) assert.ok(v >= 125 && v <= 129, String(v));
  });

  test('GIVEN a 2-frame animated GIF THEN only the first frame is used', async () => {
    const f1 = blocky(64, 48, 8, 0);
    const f2 = blocky(64, 48, 4, 3);
    const gif = await sharp(Buffer.concat([f1.data, f2.data]), {
      raw: { width: 64, height: 96, channels: 3, pageHeight: 48 },
    })
      .gif({ loop: 0 })
      .toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const first = await fromRaw(f1).png().toBuffer();
    const second = await fromRaw(f2).png().toBuffer();
    const fromGif = await preprocessToRgb(gif);
    assert.deepEqual(fromGif, await preprocessToRgb(first));
    assert.notDeepEqual(fromGif, await preprocessToRgb(second));
  });

  test('GIVEN a JPEG with EXIF orientation 6 THEN it is rotated upright by default and left alone with exif:false', async () => {
    const upright = blocky(64, 48, 16);
    const opts = { quality: 90, chromaSubsampling: '4:4:4' } as const;
    const uprightJpeg = await fromRaw(upright).jpeg(opts).toBuffer();
    const rotatedJpeg = await fromRaw(rotateCcw(upright)).jpeg(opts).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(rotatedJpeg).metadata()).orientation, 6);

    const a = await decodeRgb(uprightJpeg);
    const b = await decodeRgb(rotatedJpeg);
    assert.deepEqual([b.width, b.height], [64, 48]);
    assert.deepEqual(b.data, a.data);
    const c = await decodeRgb(rotatedJpeg, { exif: false });
    assert.deepEqual([c.width, c.height], [48, 64]);
    assert.notDeepEqual(await preprocessToRgb(rotatedJpeg, { exif: false }), await preprocessToRgb(uprightJpeg));
  });
});

describe('resize', () => {
  test('GIVEN sizes in/out THEN nearest indices follow PIL: floor((i + 0.5) · in / out)', () => {
    // Hand-checked: 2 → 224 reads column 0 for outputs 0..111 and column 1 for 112..223.
    const two = pilNearestIndices(2, 224);
    assert.equal(two[111], 0);
    assert.equal(two[112], 1);
    // 448 → 224 reads the odd columns: floor(2i + 1).
    assert.deepEqual([...pilNearestIndices(448, 224).subarray(0, 4)], [1, 3, 5, 7]);
    for (const inSize of [1, 3, 5, 7, 13, 100, 150, 225, 300, 700, 1000, 2400]) {
      const idx = pilNearestIndices(inSize, 224);
      for (let i = 0; i < 224; i++) assert.equal(idx[i], Math.floor(((i + 0.5) * inSize) / 224), `in=${inSize} i=${i}`);
    }
  });

  test('GIVEN a tiny synthetic image THEN stretch mode samples exactly the PIL source pixels', async () => {
    for (const [w, h] of [
      [5, 7],
      [13, 3],
      [150, 150],
      [255, 100],
    ] as const) {
      const png = await fromRaw(coordImage(w, h)).png().toBuffer();
      const rgb = await preprocessToRgb(png, { resize: 'stretch' });
      assert.equal(rgb.length, 224 * 224 * 3);
      for (let y = 0; y < 224; y++) {
        for (let x = 0; x < 224; x++) {
          const o = (y * 224 + x) * 3;
          const sx = Math.floor(((x + 0.5) * w) / 224);
          const sy = Math.floor(((y + 0.5) * h) / 224);
          if (rgb[o] !== sx || rgb[o + 1] !== sy)
            assert.fail(`${w}×${h}: out (${x},${y}) read (${rgb[o]},${rgb[o + 1]}), PIL reads (${sx},${sy})`);
        }
      }
    }
  });

  test('GIVEN a 2:1 image in pad mode THEN the aspect is kept and it is centred on white', async () => {
    const png = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#000000' } })
      .png()
      .toBuffer();
    const rgb = await preprocessToRgb(png, { resize: 'pad' });
    const px = (x: number, y: number) => [...rgb.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3)];
    assert.deepEqual(px(0, 0), [255, 255, 255]);
    assert.deepEqual(px(112, 55), [255, 255, 255]);
    assert.deepEqual(px(112, 56), [0, 0, 0]);
    assert.deepEqual(px(0, 167), [0, 0, 0]);
    assert.deepEqual(px(223, 168), [255, 255, 255]);
  });

  test('GIVEN a stretched image THEN the tensor is caffe BGR minus the mean, NHWC float32', async () => {
    const png = await sharp({ create: { width: 30, height: 20, channels: 3, background: { r: 10, g: 20, b: 30 } } })
      .png()
      .toBuffer();
    const t = await preprocessImage(png);
    assert.ok(t instanceof Float32Array);
    assert.equal(t.length, INPUT_LENGTH);
    const expected = [30 - 103.939, 20 - 116.779, 10 - 123.68].map(Math.fround);
    assert.deepEqual(tensorAt(t, 0, 0), expected);
    assert.deepEqual(tensorAt(t, 223, 223), expected);
  });
});

describe('bad inputs', () => {
  test('GIVEN damaged, empty or non-image bytes THEN each gets its error code', async () => {
    const jpeg = await fromRaw(blocky(320, 240, 8))
      .jpeg()
      .toBuffer();
    const png = await fromRaw(blocky(320, 240, 8))
      .png()
      .toBuffer();
    const cases: [string, Uint8Array, string][] = [
      ['zero-byte', new Uint8Array(0), 'UNSUPPORTED_IMAGE'],
      ['truncated jpeg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'IMAGE_DECODE_FAILED'],
      ['truncated png', png.subarray(0, Math.floor(png.length / 2)), 'IMAGE_DECODE_FAILED'],
      ['jpeg header only', jpeg.subarray(0, 200), 'IMAGE_DECODE_FAILED'],
      ['corrupt jpeg', Buffer.concat([jpeg.subarray(0, 4), Buffer.alloc(4000, 0x5a)]), 'IMAGE_DECODE_FAILED'],
      ['corrupt png', Buffer.concat([png.subarray(0, 8), Buffer.alloc(4000, 0x5a)]), 'IMAGE_DECODE_FAILED'],
      [
        'svg',
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect width="9" height="9"/></svg>'),
        'UNSUPPORTED_IMAGE',
      ],
      ['html', Buffer.from('<!doctype html><html><body><img src="x.jpg"></body></html>'), 'UNSUPPORTED_IMAGE'],
      ['text', Buffer.from('hello, this is a text file\n'), 'UNSUPPORTED_IMAGE'],
      ['pdf header', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), 'UNSUPPORTED_IMAGE'],
    ];
    for (const [name, bytes, code] of cases) {
      const err = await rejectsWith(preprocessImage(bytes), code);
      assert.ok(err.userMessage.length > 0, name);
    }
  });

  test('GIVEN any supported format cut short THEN IMAGE_DECODE_FAILED, never a partly grey image', async () => {
    const base = sharp({
      create: {
        width: 400,
        height: 300,
        channels: 3,
        background: '#000000',
        noise: { type: 'gaussian', mean: 128, sigma: 50 },
      },
    });
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
      const bytes = await base.clone().toFormat(format).toBuffer();
      for (const keep of [0.3, 0.9]) {
        await rejectsWith(preprocessImage(bytes.subarray(0, Math.floor(bytes.length * keep))), 'IMAGE_DECODE_FAILED');
      }
    }
  });

  test('GIVEN a file path THEN it is read (size-checked first) and a missing file is IMAGE_DECODE_FAILED', async () => {
    await mkdir(FIXTURES_DIR, { recursive: true });
    const path = join(FIXTURES_DIR, `named-like-text-${process.pid}.txt`);
    await writeFile(
      path,
      await fromRaw(blocky(30, 30, 5))
        .png()
        .toBuffer(),
    );
    assert.equal((await preprocessImage(path)).length, INPUT_LENGTH);
    await rejectsWith(preprocessImage(path, { maxBytes: 100 }), 'IMAGE_TOO_LARGE');
    await rejectsWith(preprocessImage(join(FIXTURES_DIR, 'does-not-exist.jpg')), 'IMAGE_DECODE_FAILED');
  });

  test('GIVEN bytes over the byte limit THEN IMAGE_TOO_LARGE (default 20 MB)', async () => {
    const small = await fromRaw(blocky(64, 64, 8))
      .jpeg()
      .toBuffer();
    await rejectsWith(preprocessImage(small, { maxBytes: small.length - 1 }), 'IMAGE_TOO_LARGE');
    assert.equal((await preprocessImage(small, { maxBytes: small.length })).length, INPUT_LENGTH);
    const huge = Buffer.alloc(20 * 1024 * 1024 + 1);
    huge.set([0xff, 0xd8, 0xff, 0xe0]);
    await rejectsWith(preprocessImage(huge), 'IMAGE_TOO_LARGE');
  });

  test('GIVEN an image over the pixel limit THEN IMAGE_TOO_LARGE', async () => {
    const png = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    const err = await rejectsWith(preprocessImage(png, { maxPixels: 19_999 }), 'IMAGE_TOO_LARGE');
    assert.equal(err.details.width, 200);
    assert.equal((await preprocessImage(png, { maxPixels: 20_000 })).length, INPUT_LENGTH);
  });

  test('GIVEN a 20000×20000 PNG bomb THEN it is rejected from its header without decoding', async () => {
    const path = await bombPng();
    const before = process.memoryUsage().rss;
    await rejectsWith(preprocessImage(path), 'IMAGE_TOO_LARGE');
    const grown = process.memoryUsage().rss - before;
    // Decoding would need 1.2 GB; the header check costs a few MB at most.
    assert.ok(grown < 200 * 1024 * 1024, `rss grew by ${grown} bytes`);
    // Allowed explicitly, the header is still read fine (proving it is a real 400 MP image).
    assert.deepEqual(
      await sharp(path, { limitInputPixels: false })
        .metadata()
        .then((m) => [m.width, m.height]),
      [20000, 20000],
    );
  });
});
