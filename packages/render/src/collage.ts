/**
 * The answer drawn as one picture: a labelled 3×2 grid of the results, as a JPEG of at most 1 MB.
 * Text is SVG rasterised by sharp (librsvg), in DejaVu Sans.
 *
 * For speed the picture is assembled from small pieces on one raw RGB canvas and encoded once:
 * - per catalog item, a prepared tile (card, resized image, name, price and subtitle), kept in a bounded
 *   LRU cache by a renderer the service creates once (`createCollageRenderer`);
 * - per query, small sprites for the rank badge and the similarity bar (cached by their text);
 * - the header/notice strip and the footer, cached by their texts.
 * Every piece is drawn at the same pixel position (integer offsets) as in a whole-canvas drawing,
 * so the result looks the same as drawing the whole collage as one SVG.
 */

import {
  type CollageOptions,
  type CollageRenderer,
  formatSimilarity,
  itemPrice,
  itemSubtitle,
  itemTitle,
  type Notice,
  type SimilarItem,
  type WeightsInfo,
} from '@lookalike/core';
import { LRUCache } from 'lru-cache';
import sharp from 'sharp';
import { blit, memo, onto, PAGE_BACKGROUND, type Raster, rasterize } from './raster.js';
import { escapeXml, textWidth, truncateToWidth } from './text.js';

/** Geometry of the collage (exported so tests and pages can reason about it). */
export const COLLAGE_LAYOUT = Object.freeze({
  columns: 3,
  tile: 300,
  gap: 16,
  labelHeight: 88,
  headerHeight: 60,
  noticeHeight: 38,
  footerHeight: 44,
});

const FONT = 'DejaVu Sans, Verdana, sans-serif';
const C = {
  page: PAGE_BACKGROUND,
  card: '#ffffff',
  border: '#dde1e7',
  ink: '#111827',
  muted: '#6b7280',
  accent: '#4f46e5',
  track: '#e5e7eb',
  warnBg: '#fef3c7',
  warnBorder: '#f59e0b',
  warnInk: '#92400e',
  infoBg: '#e0f2fe',
  infoBorder: '#38bdf8',
  infoInk: '#075985',
};
const PAGE_RGB = Buffer.from([0xf1, 0xf3, 0xf6]);
const CARD_RGB = Buffer.from([0xff, 0xff, 0xff]);

/** Width and height of a collage holding `count` results with `noticeCount` notice strips. */
export function collageSize(count: number, noticeCount: number): { width: number; height: number } {
  const L = COLLAGE_LAYOUT;
  const rows = Math.max(1, Math.ceil(count / L.columns));
  const width = L.columns * L.tile + (L.columns + 1) * L.gap;
  const height =
    L.headerHeight +
    noticeCount * (L.noticeHeight + 8) +
    rows * (L.tile + L.labelHeight) +
    (rows - 1) * L.gap +
    L.gap +
    L.footerHeight;
  return { width, height };
}

export interface CollageRendererOptions {
  /**
   * Prepared tiles (card, resized catalog image, name and subtitle; ≈ 350 kB each) kept in an
   * LRU cache, keyed by item id, path and label texts. 0 disables the cache. @defaultValue 128
   */
  maxTiles?: number;
}

// ---------------------------------------------------------------------------------------------
// Small caches (the rasters themselves: raster.ts).

/** Header/notice strips and footers (pure functions of their texts). */
const strips = new LRUCache<string, Promise<Raster>>({ max: 16 });
/** Rank badges and similarity meters (pure functions of their texts). */
const sprites = new LRUCache<string, Promise<Raster>>({ max: 256 });

// ---------------------------------------------------------------------------------------------
// Pieces. Tile-relative geometry: a tile is the card (tile × tile+labelHeight) at (0, 0).

const L = COLLAGE_LAYOUT;
const PAD = 10;
const INNER = L.tile - 2 * PAD;
const TILE_H = L.tile + L.labelHeight;
const TEXT_W = L.tile - 2 * 14;
const CANVAS_W = collageSize(1, 0).width;
/** Name and subtitle (between the image and the meter). */
const LABEL_BOX = { left: 1, top: L.tile - 6, width: L.tile - 2, height: 58 };
/** Similarity bar and percentage (inside the card's white area, clear of the rounded corners). */
const METER_BOX = { left: 8, top: L.tile + 52, width: L.tile - 16, height: 32 };
/** Rank badge (drawn over the image). */
const BADGE_BOX = { left: 0, top: 0, width: 56, height: 56 };

/** The empty card on the page background. */
function cardTemplate(): Promise<Raster> {
  return memo(strips, 'card', () =>
    rasterize(
      [
        `<rect x="0" y="0" width="${L.tile}" height="${TILE_H}" fill="${C.page}"/>`,
        `<rect x="0.5" y="0.5" width="${L.tile - 1}" height="${TILE_H - 1}" rx="12" fill="${C.card}" stroke="${C.border}"/>`,
      ],
      [],
      { left: 0, top: 0, width: L.tile, height: TILE_H },
    ),
  );
}

/** The image area of a tile whose image could not be read. */
function unavailablePlaceholder(): Promise<Raster> {
  return memo(strips, 'unavailable', () =>
    rasterize(
      [
        `<rect x="${PAD}" y="${PAD}" width="${INNER}" height="${INNER}" fill="${C.card}"/>`,
        `<rect x="${PAD}" y="${PAD}" width="${INNER}" height="${INNER}" rx="8" fill="${C.track}"/>`,
        `<text x="${L.tile / 2}" y="${L.tile / 2}" text-anchor="middle" font-family="${FONT}" font-size="14" fill="${C.muted}">image unavailable</text>`,
      ],
      [],
      { left: PAD, top: PAD, width: INNER, height: INNER },
    ),
  );
}

/** Pixels between the price and the subtitle after it. */
const PRICE_GAP = 5;

/** The two label lines: the name, then the price (when the catalog has one) and the subtitle. */
interface LabelTexts {
  name: string;
  /** '' without a price. */
  price: string;
  sub: string;
}

function labelTexts(item: SimilarItem): LabelTexts {
  const name = truncateToWidth(itemTitle(item), TEXT_W, 15, true);
  const price = truncateToWidth(itemPrice(item), TEXT_W, 13, true);
  const subtitle = itemSubtitle(item);
  if (price === '') return { name, price, sub: truncateToWidth(subtitle || '—', TEXT_W, 13) };
  const room = TEXT_W - textWidth(price, 13, true) - PRICE_GAP;
  const sub = subtitle === '' || room < 40 ? '' : truncateToWidth(`· ${subtitle}`, room, 13);
  return { name, price, sub };
}

/** Name, then price (bold) and subtitle, transparent (blended onto the card's white). */
function labelSprite({ name, price, sub }: LabelTexts): Promise<Raster> {
  const ly = L.tile;
  const second =
    price === ''
      ? escapeXml(sub)
      : `<tspan font-weight="bold" fill="${C.ink}">${escapeXml(price)}</tspan>${sub === '' ? '' : `<tspan dx="${PRICE_GAP}">${escapeXml(sub)}</tspan>`}`;
  return rasterize(
    null,
    [
      `<text x="14" y="${ly + 18}" font-family="${FONT}" font-size="15" font-weight="bold" fill="${C.ink}">${escapeXml(name)}</text>`,
      `<text x="14" y="${ly + 40}" font-family="${FONT}" font-size="13" fill="${C.muted}">${second}</text>`,
    ],
    LABEL_BOX,
  );
}

/** The rank badge, transparent around the disc. */
function badgeSprite(rank: number): Promise<Raster> {
  return memo(sprites, `badge\0${rank}`, () =>
    rasterize(
      null,
      [
        `<circle cx="28" cy="28" r="17" fill="${C.ink}" fill-opacity="0.88"/>`,
        `<text x="28" y="34" text-anchor="middle" font-family="${FONT}" font-size="16" font-weight="bold" fill="#ffffff">${rank}</text>`,
      ],
      BADGE_BOX,
    ),
  );
}

/** The similarity bar and "87% similar" on the card's white. */
function meterSprite(similarity: number): Promise<Raster> {
  const ly = L.tile;
  const pct = formatSimilarity(similarity);
  const ratio = Math.max(0, Math.min(1, similarity));
  const barW = Math.max(40, Math.round(TEXT_W - textWidth(`${pct} similar`, 14, true) - 12));
  const fillW = Math.max(8, Math.round(barW * ratio));
  return memo(sprites, `meter\0${pct}\0${barW}\0${fillW}`, async () => {
    const over = await rasterize(
      null,
      [
        `<rect x="14" y="${ly + 58}" width="${barW}" height="8" rx="4" fill="${C.track}"/>`,
        `<rect x="14" y="${ly + 58}" width="${fillW}" height="8" rx="4" fill="${C.accent}"/>`,
        `<text x="${L.tile - 14}" y="${ly + 67}" text-anchor="end" font-family="${FONT}" font-size="14" font-weight="bold" fill="${C.accent}">${escapeXml(`${pct} similar`)}</text>`,
      ],
      METER_BOX,
    );
    return onto(over, CARD_RGB);
  });
}

/** Title, count and notice strips: the canvas from the top down to the grid. */
function headerStrip(title: string, count: number, notices: readonly Notice[]): Promise<Raster> {
  const key = JSON.stringify(['header', title, count, notices.map((n) => [n.level, n.text])]);
  return memo(strips, key, () => {
    const width = CANVAS_W;
    const height = L.headerHeight + notices.length * (L.noticeHeight + 8);
    const parts: string[] = [`<rect width="${width}" height="${height}" fill="${C.page}"/>`];
    const over: string[] = [];
    over.push(
      `<text x="${L.gap}" y="38" font-family="${FONT}" font-size="24" font-weight="bold" fill="${C.ink}">${escapeXml(title)}</text>`,
    );
    const countText = `${count} of the catalog’s nearest items`;
    over.push(
      `<text x="${width - L.gap}" y="37" text-anchor="end" font-family="${FONT}" font-size="14" fill="${C.muted}">${escapeXml(countText)}</text>`,
    );
    let y = L.headerHeight;
    for (const notice of notices) {
      const warn = notice.level === 'warn';
      const bg = warn ? C.warnBg : C.infoBg;
      const border = warn ? C.warnBorder : C.infoBorder;
      const ink = warn ? C.warnInk : C.infoInk;
      const text = truncateToWidth(`${warn ? '⚠ ' : ''}${notice.text}`, width - 2 * L.gap - 48, 15, true);
      parts.push(
        `<rect x="${L.gap}" y="${y}" width="${width - 2 * L.gap}" height="${L.noticeHeight}" rx="8" fill="${bg}" stroke="${border}" stroke-width="1.5"/>`,
      );
      if (!warn) {
        over.push(
          `<circle cx="${L.gap + 22}" cy="${y + L.noticeHeight / 2}" r="9" fill="${ink}"/>`,
          `<text x="${L.gap + 22}" y="${y + L.noticeHeight / 2 + 5}" text-anchor="middle" font-family="${FONT}" font-size="13" font-weight="bold" fill="${bg}">i</text>`,
        );
      }
      over.push(
        `<text x="${L.gap + (warn ? 14 : 38)}" y="${y + 25}" font-family="${FONT}" font-size="15" font-weight="bold" fill="${ink}">${escapeXml(text)}</text>`,
      );
      y += L.noticeHeight + 8;
    }
    return rasterize(parts, over, { left: 0, top: 0, width, height });
  });
}

/** The weights on the left; for untrained weights, the warning on the right in amber. */
function footerStrip(weights: WeightsInfo): Promise<Raster> {
  const key = JSON.stringify(['footer', weights.description, weights.untrained]);
  return memo(strips, key, () => {
    const width = CANVAS_W;
    const fy = L.footerHeight / 2 + 5;
    const warning = 'untrained model: results are not meaningful';
    const warnWidth = weights.untrained ? textWidth(warning, 13, true) + 24 : 0;
    const weightsText = truncateToWidth(`Weights: ${weights.description}`, width - 2 * L.gap - warnWidth, 13);
    const under = [`<rect width="${width}" height="${L.footerHeight}" fill="${C.page}"/>`];
    const parts = [
      `<text x="${L.gap}" y="${fy}" font-family="${FONT}" font-size="13" fill="${C.muted}">${escapeXml(weightsText)}</text>`,
    ];
    if (weights.untrained) {
      parts.push(
        `<text x="${width - L.gap}" y="${fy}" text-anchor="end" font-family="${FONT}" font-size="13" font-weight="bold" fill="${C.warnInk}">⚠ ${escapeXml(warning)}</text>`,
      );
    }
    return rasterize(under, parts, { left: 0, top: 0, width, height: L.footerHeight });
  });
}

/** The grid area of a collage without results. */
function emptyGrid(): Promise<Raster> {
  return memo(strips, 'empty', () =>
    rasterize(
      [`<rect width="${CANVAS_W}" height="${TILE_H}" fill="${C.page}"/>`],
      [
        `<text x="${CANVAS_W / 2}" y="${TILE_H / 2}" text-anchor="middle" font-family="${FONT}" font-size="18" fill="${C.muted}">Nothing in the catalog matches these filters.</text>`,
      ],
      { left: 0, top: 0, width: CANVAS_W, height: TILE_H },
    ),
  );
}

/** The catalog image, decoded and fitted into INNER×INNER on white, as raw RGB; null if unreadable. */
async function tileImage(item: SimilarItem, load: CollageOptions['loadImage']): Promise<Raster | null> {
  try {
    const bytes = await load(item);
    const { data, info } = await sharp(bytes, { limitInputPixels: 40_000_000, pages: 1, failOn: 'none' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(INNER, INNER, { fit: 'contain', background: '#ffffff', kernel: 'lanczos3' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== INNER || info.height !== INNER) return null;
    return { data, width: INNER, height: INNER, channels: 3 };
  } catch {
    return null;
  }
}

/** The card with the item's image, name and subtitle (no rank or similarity). */
async function prepareTile(
  item: SimilarItem,
  load: CollageOptions['loadImage'],
  texts: LabelTexts,
): Promise<{ tile: Raster; complete: boolean }> {
  const [card, image, label] = await Promise.all([cardTemplate(), tileImage(item, load), labelSprite(texts)]);
  const data = Buffer.from(card.data);
  blit(data, L.tile, image ?? (await unavailablePlaceholder()), PAD, PAD);
  blit(data, L.tile, label, LABEL_BOX.left, LABEL_BOX.top);
  return { tile: { data, width: L.tile, height: TILE_H, channels: 3 }, complete: image !== null };
}

/**
 * Creates a collage renderer with its own tile cache; create one per process (the service does)
 * so repeated catalog items are not decoded and resized again.
 */
export function createCollageRenderer(options: CollageRendererOptions = {}): CollageRenderer {
  const maxTiles = Math.max(0, Math.trunc(options.maxTiles ?? 128));
  // lru-cache needs max ≥ 1; with maxTiles 0 the cache is never consulted (see tileFor).
  const tiles = new LRUCache<string, Raster>({ max: Math.max(1, maxTiles) });
  /** Tiles being prepared, so concurrent renders of the same item share one decode. */
  const pending = new Map<string, Promise<{ tile: Raster; complete: boolean }>>();
  let hits = 0;
  let misses = 0;
  let generation = 0;

  async function tileFor(item: SimilarItem, load: CollageOptions['loadImage']): Promise<Raster> {
    const texts = labelTexts(item);
    if (maxTiles === 0) return (await prepareTile(item, load, texts)).tile;
    const key = JSON.stringify([item.id, item.path, texts.name, texts.price, texts.sub]);
    const cached = tiles.get(key);
    if (cached !== undefined) {
      hits++;
      return cached;
    }
    misses++;
    let job = pending.get(key);
    if (job === undefined) {
      const gen = generation;
      job = prepareTile(item, load, texts).finally(() => pending.delete(key));
      pending.set(key, job);
      const prepared = await job;
      // An unreadable image may be transient: only complete tiles are kept.
      if (prepared.complete && gen === generation) tiles.set(key, prepared.tile);
      return prepared.tile;
    }
    return (await job).tile;
  }

  return {
    async render(results, opts) {
      const shown = results.slice(0, 6);
      const notices = opts.notices ?? [];
      const { width, height } = collageSize(shown.length, notices.length);
      const maxBytes = opts.maxBytes ?? 1_000_000;
      const title = opts.title ?? (shown.length > 0 ? 'Closest matches' : 'No results');

      const [header, footer, cards, badges, meters, empty] = await Promise.all([
        headerStrip(title, shown.length, notices),
        footerStrip(opts.weights),
        Promise.all(shown.map((item) => tileFor(item, opts.loadImage))),
        Promise.all(shown.map((item) => badgeSprite(item.rank))),
        Promise.all(shown.map((item) => meterSprite(item.similarity))),
        shown.length === 0 ? emptyGrid() : null,
      ]);

      const canvas = Buffer.allocUnsafe(width * height * 3);
      canvas.fill(PAGE_RGB);
      blit(canvas, width, header, 0, 0);
      const gridTop = header.height;
      shown.forEach((_, i) => {
        const x = L.gap + (i % L.columns) * (L.tile + L.gap);
        const ty = gridTop + Math.floor(i / L.columns) * (TILE_H + L.gap);
        const card = cards[i];
        const badge = badges[i];
        const meter = meters[i];
        if (card === undefined || badge === undefined || meter === undefined) return;
        blit(canvas, width, card, x, ty);
        blit(canvas, width, badge, x + BADGE_BOX.left, ty + BADGE_BOX.top);
        blit(canvas, width, meter, x + METER_BOX.left, ty + METER_BOX.top);
      });
      if (empty !== null) blit(canvas, width, empty, 0, gridTop);
      blit(canvas, width, footer, 0, height - L.footerHeight);

      const raw = { raw: { width, height, channels: 3 as const } };
      for (const quality of [86, 72, 58, 44]) {
        // Huffman optimisation saves ~7% of the bytes but doubles the encoding time: only when needed.
        for (const optimiseCoding of [false, true]) {
          const jpeg = await sharp(canvas, raw)
            .jpeg({ quality, chromaSubsampling: '4:2:0', optimiseCoding })
            .toBuffer();
          if (jpeg.length <= maxBytes) return jpeg;
        }
      }
      return sharp(canvas, raw)
        .resize({ width: Math.round(width * 0.5) })
        .jpeg({ quality: 50, mozjpeg: true })
        .toBuffer();
    },
    clear() {
      generation++;
      tiles.clear();
    },
    stats() {
      return { tiles: tiles.size, hits, misses };
    },
  };
}

/** Renders without a tile cache (one-off use: the CLI, tests). */
const oneOff = createCollageRenderer({ maxTiles: 0 });

/**
 * Draws the results (up to 6 shown; more are ignored) as a labelled grid, without caching
 * tiles (a long-lived caller should keep a `createCollageRenderer()` instead).
 * Never throws for an unreadable catalog image: its tile says "image unavailable".
 * @returns a JPEG of at most `maxBytes` bytes.
 */
export function renderCollage(results: readonly SimilarItem[], options: CollageOptions): Promise<Buffer> {
  return oneOff.render(results, options);
}
