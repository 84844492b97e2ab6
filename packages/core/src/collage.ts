/**
 * The answer drawn as one picture: a labelled 3×2 grid of the results, as a JPEG of at most 1 MB.
 * Text is SVG composited by sharp (librsvg), in DejaVu Sans.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { formatSimilarity, itemSubtitle, itemTitle } from './format.js';
import type { SimilarItem, WeightsInfo } from './ports.js';
import { escapeXml, textWidth, truncateToWidth } from './text.js';

/** Shown (and drawn in a warning colour) when the weights are random. */
export const UNTRAINED_NOTICE = 'Untrained model: results are not meaningful.';
/** Shown when even the best result is farther than the threshold. */
export const NO_CLOSE_MATCH_NOTICE = 'No close match in the catalog; these are the nearest items.';

export interface CollageOptions {
  /** Named in the footer. */
  weights: WeightsInfo;
  /** Lines drawn as strips under the title (UNTRAINED_NOTICE is drawn as a warning). */
  notices?: readonly string[];
  /** Loads a result's catalog image. */
  loadImage: (item: SimilarItem) => Promise<Uint8Array>;
  /** Title line. @defaultValue "Closest matches" */
  title?: string;
  /** Upper bound of the JPEG. @defaultValue 1,000,000 bytes */
  maxBytes?: number;
}

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
  page: '#f1f3f6',
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

async function tileImage(item: SimilarItem, load: CollageOptions['loadImage'], size: number): Promise<Buffer | null> {
  try {
    const bytes = await load(item);
    return await sharp(bytes, { limitInputPixels: 40_000_000, pages: 1, failOn: 'none' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(size, size, { fit: 'contain', background: '#ffffff', kernel: 'lanczos3' })
      .png({ compressionLevel: 0 })
      .toBuffer();
  } catch {
    return null;
  }
}

/**
 * Draws the results (up to 6 shown; more are ignored) as a labelled grid.
 * Never throws for an unreadable catalog image: its tile says "image unavailable".
 * @returns a JPEG of at most `maxBytes` bytes.
 */
export async function renderCollage(results: readonly SimilarItem[], options: CollageOptions): Promise<Buffer> {
  const L = COLLAGE_LAYOUT;
  const shown = results.slice(0, 6);
  const notices = options.notices ?? [];
  const { width, height } = collageSize(shown.length, notices.length);
  const maxBytes = options.maxBytes ?? 1_000_000;
  const pad = 10;
  const inner = L.tile - 2 * pad;

  const images = await Promise.all(shown.map((item) => tileImage(item, options.loadImage, inner)));

  const under: string[] = [];
  const over: string[] = [];
  const composites: OverlayOptions[] = [];

  // Header.
  const title = options.title ?? (shown.length > 0 ? 'Closest matches' : 'No results');
  over.push(
    `<text x="${L.gap}" y="38" font-family="${FONT}" font-size="24" font-weight="bold" fill="${C.ink}">${escapeXml(title)}</text>`,
  );
  const countText = `${shown.length} of the catalog’s nearest items`;
  over.push(
    `<text x="${width - L.gap}" y="37" text-anchor="end" font-family="${FONT}" font-size="14" fill="${C.muted}">${escapeXml(countText)}</text>`,
  );

  // Notice strips.
  let y = L.headerHeight;
  for (const notice of notices) {
    const warn = notice === UNTRAINED_NOTICE;
    const bg = warn ? C.warnBg : C.infoBg;
    const border = warn ? C.warnBorder : C.infoBorder;
    const ink = warn ? C.warnInk : C.infoInk;
    const text = truncateToWidth(`${warn ? '⚠ ' : ''}${notice}`, width - 2 * L.gap - 48, 15, true);
    under.push(
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
  const gridTop = y;

  // Tiles.
  shown.forEach((item, i) => {
    const col = i % L.columns;
    const row = Math.floor(i / L.columns);
    const x = L.gap + col * (L.tile + L.gap);
    const ty = gridTop + row * (L.tile + L.labelHeight + L.gap);
    under.push(
      `<rect x="${x + 0.5}" y="${ty + 0.5}" width="${L.tile - 1}" height="${L.tile + L.labelHeight - 1}" rx="12" fill="${C.card}" stroke="${C.border}"/>`,
    );
    const img = images[i];
    if (img !== null && img !== undefined) {
      composites.push({ input: img, left: x + pad, top: ty + pad });
    } else {
      under.push(
        `<rect x="${x + pad}" y="${ty + pad}" width="${inner}" height="${inner}" rx="8" fill="${C.track}"/>`,
        `<text x="${x + L.tile / 2}" y="${ty + L.tile / 2}" text-anchor="middle" font-family="${FONT}" font-size="14" fill="${C.muted}">image unavailable</text>`,
      );
    }
    // Rank badge.
    over.push(
      `<circle cx="${x + 28}" cy="${ty + 28}" r="17" fill="${C.ink}" fill-opacity="0.88"/>`,
      `<text x="${x + 28}" y="${ty + 34}" text-anchor="middle" font-family="${FONT}" font-size="16" font-weight="bold" fill="#ffffff">${item.rank}</text>`,
    );
    // Labels.
    const ly = ty + L.tile;
    const textW = L.tile - 2 * 14;
    const name = truncateToWidth(itemTitle(item), textW, 15, true);
    const sub = truncateToWidth(itemSubtitle(item) || '—', textW, 13);
    const pct = formatSimilarity(item.similarity);
    const ratio = Math.max(0, Math.min(1, item.similarity));
    const barW = Math.max(40, Math.round(textW - textWidth(`${pct} similar`, 14, true) - 12));
    over.push(
      `<text x="${x + 14}" y="${ly + 18}" font-family="${FONT}" font-size="15" font-weight="bold" fill="${C.ink}">${escapeXml(name)}</text>`,
      `<text x="${x + 14}" y="${ly + 40}" font-family="${FONT}" font-size="13" fill="${C.muted}">${escapeXml(sub)}</text>`,
      `<rect x="${x + 14}" y="${ly + 58}" width="${barW}" height="8" rx="4" fill="${C.track}"/>`,
      `<rect x="${x + 14}" y="${ly + 58}" width="${Math.max(8, Math.round(barW * ratio))}" height="8" rx="4" fill="${C.accent}"/>`,
      `<text x="${x + L.tile - 14}" y="${ly + 67}" text-anchor="end" font-family="${FONT}" font-size="14" font-weight="bold" fill="${C.accent}">${escapeXml(`${pct} similar`)}</text>`,
    );
  });
  if (shown.length === 0) {
    over.push(
      `<text x="${width / 2}" y="${gridTop + (L.tile + L.labelHeight) / 2}" text-anchor="middle" font-family="${FONT}" font-size="18" fill="${C.muted}">Nothing in the catalog matches these filters.</text>`,
    );
  }

  // Footer: the weights on the left; for untrained weights, the warning on the right in amber.
  const fy = height - L.footerHeight / 2 + 5;
  const warning = 'untrained model: results are not meaningful';
  const warnWidth = options.weights.untrained ? textWidth(warning, 13, true) + 24 : 0;
  const weightsText = truncateToWidth(`Weights: ${options.weights.description}`, width - 2 * L.gap - warnWidth, 13);
  over.push(
    `<text x="${L.gap}" y="${fy}" font-family="${FONT}" font-size="13" fill="${C.muted}">${escapeXml(weightsText)}</text>`,
  );
  if (options.weights.untrained) {
    over.push(
      `<text x="${width - L.gap}" y="${fy}" text-anchor="end" font-family="${FONT}" font-size="13" font-weight="bold" fill="${C.warnInk}">⚠ ${escapeXml(warning)}</text>`,
    );
  }

  const svg = (parts: string[]) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`,
    );
  const background = `<rect width="${width}" height="${height}" fill="${C.page}"/>`;
  const render = (quality: number, scale = 1) => {
    let pipeline = sharp(svg([background, ...under])).composite([...composites, { input: svg(over), left: 0, top: 0 }]);
    if (scale !== 1) {
      // composite runs last in sharp's pipeline: flatten it first, then scale the result.
      return pipeline
        .raw()
        .toBuffer({ resolveWithObject: true })
        .then(({ data, info }) =>
          sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
            .resize({ width: Math.round(width * scale) })
            .flatten({ background: C.page })
            .jpeg({ quality, mozjpeg: true })
            .toBuffer(),
        );
    }
    pipeline = pipeline.flatten({ background: C.page });
    return pipeline.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  };
  for (const quality of [86, 72, 58, 44]) {
    const jpeg = await render(quality);
    if (jpeg.length <= maxBytes) return jpeg;
  }
  return render(50, 0.5);
}
