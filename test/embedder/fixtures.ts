/**
 * Generated images for the embedder tests and bench (deterministic; nothing is committed), and
 * the small helpers those tests share.
 */
import assert from 'node:assert/strict';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { rng } from '../helpers/rng.js';

export const FIXTURES_DIR = join(TEST_TMP_DIR, 'embedder-fixtures');

/** Largest element-wise difference of two vectors of the same length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** A raw interleaved image built pixel by pixel. */
export function raw(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  px: (x: number, y: number) => readonly number[],
): { data: Buffer; info: { width: number; height: number; channels: 1 | 2 | 3 | 4 } } {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = px(x, y);
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = v[c] ?? 0;
    }
  }
  return { data, info: { width, height, channels } };
}

export function fromRaw(r: ReturnType<typeof raw>): Sharp {
  return sharp(r.data, { raw: r.info });
}

/** Blocky colour pattern whose JPEG (4:4:4) and GIF encodings decode losslessly. */
export const PALETTE = [
  [200, 30, 40],
  [20, 180, 60],
  [30, 40, 220],
  [240, 240, 20],
  [10, 10, 10],
  [250, 250, 250],
  [120, 60, 200],
] as const;

export function blocky(width: number, height: number, block: number, shift = 0): ReturnType<typeof raw> {
  return raw(
    width,
    height,
    3,
    (x, y) => PALETTE[(Math.floor(x / block) * 3 + Math.floor(y / block) * 5 + shift) % PALETTE.length] ?? [0, 0, 0],
  );
}

/**
 * Rotates raw RGB 90° counter-clockwise: the stored pixels of a photo whose EXIF orientation
 * is 6 ("rotate 90° clockwise to display").
 */
export function rotateCcw(r: ReturnType<typeof raw>): ReturnType<typeof raw> {
  const { width: w, height: h } = r.info;
  return raw(h, w, 3, (x, y) => {
    const ux = w - 1 - y;
    const uy = x;
    const o = (uy * w + ux) * 3;
    return [r.data[o] ?? 0, r.data[o + 1] ?? 0, r.data[o + 2] ?? 0];
  });
}

export interface NamedImage {
  name: string;
  bytes: Buffer;
}

/** 20 varied images: sizes, aspect ratios, colours, gradients, noise, alpha, greyscale, formats. */
export async function variedImages(): Promise<NamedImage[]> {
  const r = rng(1234);
  const noise = (w: number, h: number, ch: 3 | 4) => raw(w, h, ch, () => [r() * 255, r() * 255, r() * 255, r() * 255]);
  const gradient = (w: number, h: number) =>
    raw(w, h, 3, (x, y) => [(x * 255) / w, (y * 255) / h, ((x + y) * 127) / (w + h)]);
  const list: [string, Promise<Buffer>][] = [
    [
      'noise-224.png',
      fromRaw(noise(224, 224, 3))
        .png()
        .toBuffer(),
    ],
    ['gradient-300x225.jpg', fromRaw(gradient(300, 225)).jpeg({ quality: 92 }).toBuffer()],
    ['gradient-225x300.jpg', fromRaw(gradient(225, 300)).jpeg({ quality: 80 }).toBuffer()],
    [
      'tiny-1x1.png',
      sharp({ create: { width: 1, height: 1, channels: 3, background: '#c03060' } })
        .png()
        .toBuffer(),
    ],
    [
      'tiny-5x7.png',
      fromRaw(noise(5, 7, 3))
        .png()
        .toBuffer(),
    ],
    ['wide-1200x90.webp', fromRaw(gradient(1200, 90)).webp({ quality: 85 }).toBuffer()],
    [
      'tall-80x900.png',
      fromRaw(noise(80, 900, 3))
        .png()
        .toBuffer(),
    ],
    [
      'solid-red.png',
      sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } })
        .png()
        .toBuffer(),
    ],
    [
      'solid-white.jpg',
      sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } })
        .jpeg()
        .toBuffer(),
    ],
    [
      'solid-black.png',
      sharp({ create: { width: 64, height: 48, channels: 3, background: '#000000' } })
        .png()
        .toBuffer(),
    ],
    [
      'rgba-noise.png',
      fromRaw(noise(180, 140, 4))
        .png()
        .toBuffer(),
    ],
    ['grey-gradient.png', fromRaw(gradient(256, 256)).toColourspace('b-w').png().toBuffer()],
    [
      'grey16.png',
      fromRaw(noise(120, 90, 3))
        .toColourspace('grey16')
        .png()
        .toBuffer(),
    ],
    [
      'blocky-640x480.jpg',
      fromRaw(blocky(640, 480, 16))
        .jpeg({ quality: 95 })
        .toBuffer(),
    ],
    [
      'blocky.gif',
      fromRaw(blocky(150, 100, 10, 2))
        .gif()
        .toBuffer(),
    ],
    [
      'noise-big-1600x1200.jpg',
      fromRaw(noise(1600, 1200, 3))
        .jpeg({ quality: 75 })
        .toBuffer(),
    ],
    ['gradient.tiff', fromRaw(gradient(333, 222)).tiff().toBuffer()],
    [
      'noise.avif',
      fromRaw(noise(96, 128, 3))
        .avif({ quality: 60 })
        .toBuffer(),
    ],
    ['cmyk.jpg', fromRaw(gradient(200, 150)).toColourspace('cmyk').jpeg().toBuffer()],
    [
      'pale-stripes.png',
      fromRaw(raw(310, 170, 3, (x) => (x % 20 < 10 ? [230, 220, 250] : [250, 235, 215])))
        .png()
        .toBuffer(),
    ],
  ];
  return Promise.all(list.map(async ([name, p]) => ({ name, bytes: await p })));
}

async function cached(name: string, make: () => Promise<Buffer>): Promise<string> {
  const path = join(FIXTURES_DIR, name);
  try {
    await stat(path);
    return path;
  } catch {
    // build below
  }
  await mkdir(FIXTURES_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, await make());
  await rename(tmp, path);
  return path;
}

/**
 * A real 20000×20000 PNG (400 MP, 1.2 GB decoded, ~1.2 MB on disk): a decompression bomb.
 * Generated once (~8 s) and cached under test/.tmp.
 */
export function bombPng(): Promise<string> {
  return cached('bomb-20000x20000.png', () =>
    sharp({ create: { width: 20000, height: 20000, channels: 3, background: '#808080' }, limitInputPixels: false })
      .png({ compressionLevel: 9 })
      .toBuffer(),
  );
}
