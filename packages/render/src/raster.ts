/**
 * Raw RGB rasters for the collage: SVG pieces rasterised by sharp at integer offsets, memoised,
 * and copied or alpha-blended onto one canvas (the same pixels as drawing the whole canvas).
 */
import type { LRUCache } from 'lru-cache';
import sharp from 'sharp';

/** The collage's page colour: what an opaque piece is flattened onto. */
export const PAGE_BACKGROUND = '#f1f3f6';

/** Raw 8-bit pixels: 3 channels (opaque RGB) or 4 (RGBA, not premultiplied). */
export interface Raster {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Memoises `make()` in `cache` under `key`; a failed promise is not kept. */
export function memo(
  cache: LRUCache<string, Promise<Raster>>,
  key: string,
  make: () => Promise<Raster>,
): Promise<Raster> {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const p = make();
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}

/**
 * Rasterises the part of a drawing at (`box.left`, `box.top`) of size `box.width`×`box.height`
 * (the viewBox offset is an integer translation, so pixels match a drawing of the whole canvas).
 * Like a whole-canvas drawing, `under` (which must paint the whole box, e.g. start with a filled
 * rect) is one SVG and `over` (text, badges, bars) a second, transparent one composited onto it;
 * the result is opaque RGB. Without `under`, the result is the transparent `over` (RGBA).
 */
export async function rasterize(
  under: readonly string[] | null,
  over: readonly string[],
  box: { left: number; top: number; width: number; height: number },
): Promise<Raster> {
  const svg = (parts: readonly string[]) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${box.width}" height="${box.height}" viewBox="${box.left} ${box.top} ${box.width} ${box.height}">${parts.join('')}</svg>`,
    );
  const image =
    under === null
      ? sharp(svg(over)).ensureAlpha()
      : sharp(svg(under))
          .composite(over.length > 0 ? [{ input: svg(over), left: 0, top: 0 }] : [])
          .flatten({ background: PAGE_BACKGROUND });
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  if (under === null) return { data, width: info.width, height: info.height, channels: 4 };
  // sharp composites after flattening, so an overlay leaves an (opaque) alpha channel behind.
  return { data: info.channels === 4 ? dropAlpha(data) : data, width: info.width, height: info.height, channels: 3 };
}

function dropAlpha(rgba: Buffer): Buffer {
  const rgb = Buffer.allocUnsafe((rgba.length / 4) * 3);
  // Plain indexed stores: a Buffer.copy call per pixel costs ~10× more than the bytes it moves.
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i] as number;
    rgb[j + 1] = rgba[i + 1] as number;
    rgb[j + 2] = rgba[i + 2] as number;
  }
  return rgb;
}

const f32 = Math.fround;

/** `src` (RGBA) blended onto a plain `rgb` background, as RGB. */
export function onto(src: Raster, rgb: Buffer): Raster {
  const data = Buffer.allocUnsafe(src.width * src.height * 3);
  data.fill(rgb);
  blit(data, src.width, src, 0, 0);
  return { data, width: src.width, height: src.height, channels: 3 };
}

/** Copies (RGB) or alpha-blends (RGBA) `src` onto the RGB canvas `dst` at (`left`, `top`). */
export function blit(dst: Buffer, dstWidth: number, src: Raster, left: number, top: number): void {
  const { data, width, height } = src;
  if (src.channels === 3) {
    const row = width * 3;
    for (let y = 0; y < height; y++) data.copy(dst, ((top + y) * dstWidth + left) * 3, y * row, y * row + row);
    return;
  }
  for (let y = 0; y < height; y++) {
    let si = y * width * 4;
    let di = ((top + y) * dstWidth + left) * 3;
    for (let x = 0; x < width; x++, si += 4, di += 3) {
      const a = data[si + 3] ?? 0;
      if (a === 0) continue;
      if (a === 255) {
        dst[di] = data[si] as number;
        dst[di + 1] = data[si + 1] as number;
        dst[di + 2] = data[si + 2] as number;
        continue;
      }
      // libvips' "over" in float32, truncated (as sharp's composite), to within ±1 in rare cases.
      const aA = f32(a / 255);
      const t = f32(1 - aA);
      for (let c = 0; c < 3; c++) {
        dst[di + c] = Math.floor(f32(f32((data[si + c] ?? 0) * aA) + f32((dst[di + c] ?? 0) * t)));
      }
    }
  }
}
