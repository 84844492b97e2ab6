/**
 * A synthetic, labelled product catalog drawn with sharp (SVG → JPEG/PNG), so the project runs
 * end to end without outside data. Garment silhouettes on white like product shots, in varied
 * colours and patterns, with a `styles.csv`-format labels file. Deterministic for a seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { formatCsvRow, LABEL_COLUMNS } from './csv.js';

export interface DemoCatalogOptions {
  /** Number of images. @defaultValue 400 */
  count?: number;
  /** Seed of the random generator: the same seed draws the same catalog. @defaultValue 42 */
  seed?: number;
  /** Image width in pixels (height is 4/3 of it). @defaultValue 300 */
  width?: number;
  /** First numeric id. @defaultValue 10000 */
  firstId?: number;
}

export interface DemoItem {
  id: string;
  /** File name inside `imagesDir`. */
  file: string;
  gender: string;
  masterCategory: string;
  subCategory: string;
  articleType: string;
  baseColour: string;
  season: string;
  year: string;
  usage: string;
  productDisplayName: string;
  pattern: Pattern;
}

export interface DemoCatalog {
  /** Folder holding the images (`<outDir>/images`). */
  imagesDir: string;
  /** The labels file (`<outDir>/labels.csv`). */
  labelsPath: string;
  items: DemoItem[];
}

type Pattern = 'solid' | 'stripes' | 'dots' | 'checks';

interface Kind {
  articleType: string;
  masterCategory: string;
  subCategory: string;
  noun: string;
  genders: readonly string[];
  usages: readonly string[];
  draw: (fill: string, stroke: string, accent: string, rnd: () => number) => string;
}

const COLOURS: readonly { name: string; hex: string }[] = [
  { name: 'Black', hex: '#1c1c1e' },
  { name: 'White', hex: '#f3f3f0' },
  { name: 'Navy Blue', hex: '#1f2a55' },
  { name: 'Blue', hex: '#2f6fd6' },
  { name: 'Red', hex: '#c62828' },
  { name: 'Green', hex: '#2e7d32' },
  { name: 'Yellow', hex: '#f2c230' },
  { name: 'Pink', hex: '#f2a0bd' },
  { name: 'Grey', hex: '#8c8c8c' },
  { name: 'Brown', hex: '#6d4c41' },
  { name: 'Beige', hex: '#d8c6a5' },
  { name: 'Purple', hex: '#6a2c91' },
  { name: 'Orange', hex: '#ef7a12' },
  { name: 'Maroon', hex: '#7b1f2a' },
  { name: 'Olive', hex: '#6f7d32' },
];

const BRANDS = ['Northwind', 'Lumen', 'Rivet & Co', 'Kestrel', 'Plainsong', 'Marlowe', 'Oaktree', 'Sora'];
const SEASONS = ['Summer', 'Fall', 'Winter', 'Spring'];

/** Garment silhouettes on a 300×400 canvas; `fill` may be a pattern URL. */
const KINDS: readonly Kind[] = [
  {
    articleType: 'Tshirts',
    masterCategory: 'Apparel',
    subCategory: 'Topwear',
    noun: 'T-shirt',
    genders: ['Men', 'Women', 'Unisex'],
    usages: ['Casual', 'Sports'],
    draw: (fill, stroke) =>
      `<path d="M104 92 L128 84 Q150 108 172 84 L196 92 L252 134 L230 172 L206 156 L208 322 L92 322 L94 156 L70 172 L48 134 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M128 84 Q150 108 172 84" fill="none" stroke="${stroke}" stroke-width="5"/>`,
  },
  {
    articleType: 'Shirts',
    masterCategory: 'Apparel',
    subCategory: 'Topwear',
    noun: 'Shirt',
    genders: ['Men', 'Women'],
    usages: ['Formal', 'Casual'],
    draw: (fill, stroke, accent) =>
      `<path d="M106 62 L132 52 L150 80 L168 52 L194 62 L230 104 L258 282 L230 290 L204 160 L206 326 L94 326 L96 160 L70 290 L42 282 L70 104 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M132 52 L150 80 L140 96 L120 66 Z M168 52 L150 80 L160 96 L180 66 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <line x1="150" y1="82" x2="150" y2="326" stroke="${stroke}" stroke-width="2"/>
       ${[110, 150, 190, 230, 270, 306].map((y) => `<circle cx="157" cy="${y}" r="4" fill="${accent}" stroke="${stroke}"/>`).join('')}
       <rect x="108" y="140" width="30" height="26" fill="none" stroke="${stroke}" stroke-width="2"/>`,
  },
  {
    articleType: 'Trousers',
    masterCategory: 'Apparel',
    subCategory: 'Bottomwear',
    noun: 'Trousers',
    genders: ['Men', 'Women'],
    usages: ['Formal', 'Casual'],
    draw: (fill, stroke) =>
      `<path d="M98 44 L202 44 L218 362 L166 362 L150 126 L134 362 L82 362 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <rect x="98" y="44" width="104" height="16" fill="${fill}" stroke="${stroke}" stroke-width="3"/>
       <line x1="150" y1="60" x2="150" y2="120" stroke="${stroke}" stroke-width="2"/>
       <path d="M104 62 Q118 86 134 64 M196 62 Q182 86 166 64" fill="none" stroke="${stroke}" stroke-width="2"/>`,
  },
  {
    articleType: 'Skirts',
    masterCategory: 'Apparel',
    subCategory: 'Bottomwear',
    noun: 'Skirt',
    genders: ['Women', 'Girls'],
    usages: ['Casual', 'Party'],
    draw: (fill, stroke) =>
      `<path d="M108 92 L192 92 L246 318 Q150 338 54 318 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <rect x="106" y="78" width="88" height="16" rx="3" fill="${fill}" stroke="${stroke}" stroke-width="3"/>
       <path d="M128 96 L104 322 M150 96 L150 328 M172 96 L196 322" fill="none" stroke="${stroke}" stroke-width="1.5" opacity="0.6"/>`,
  },
  {
    articleType: 'Dresses',
    masterCategory: 'Apparel',
    subCategory: 'Dress',
    noun: 'Dress',
    genders: ['Women', 'Girls'],
    usages: ['Casual', 'Party', 'Ethnic'],
    draw: (fill, stroke, accent) =>
      `<path d="M122 40 L134 40 Q150 62 166 40 L178 40 L186 140 L174 172 L248 364 Q150 380 52 364 L126 172 L114 140 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M124 168 Q150 180 176 168" fill="none" stroke="${accent}" stroke-width="6"/>`,
  },
  {
    articleType: 'Casual Shoes',
    masterCategory: 'Footwear',
    subCategory: 'Shoes',
    noun: 'Sneakers',
    genders: ['Men', 'Women', 'Unisex'],
    usages: ['Casual', 'Sports'],
    draw: (fill, stroke, accent) =>
      `<path d="M36 258 Q34 198 78 192 L132 176 Q164 170 178 198 L236 226 Q268 236 268 262 L268 270 L36 270 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M32 268 L272 268 Q274 292 250 294 L52 294 Q30 292 32 268 Z" fill="#f5f5f5" stroke="#555" stroke-width="3"/>
       <path d="M136 186 L150 214 M152 182 L166 210 M168 188 L182 214" stroke="${accent}" stroke-width="4" stroke-linecap="round"/>
       <path d="M70 236 Q120 214 176 238" fill="none" stroke="${accent}" stroke-width="7" stroke-linecap="round"/>`,
  },
  {
    articleType: 'Handbags',
    masterCategory: 'Accessories',
    subCategory: 'Bags',
    noun: 'Handbag',
    genders: ['Women'],
    usages: ['Casual', 'Formal'],
    draw: (fill, stroke, accent) =>
      `<path d="M104 176 Q104 86 150 86 Q196 86 196 176" fill="none" stroke="${stroke}" stroke-width="10" stroke-linecap="round"/>
       <path d="M66 170 L234 170 L256 336 Q256 346 246 346 L54 346 Q44 346 44 336 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M66 170 L234 170 L228 214 L72 214 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" opacity="0.9"/>
       <rect x="138" y="204" width="24" height="18" rx="3" fill="${accent}" stroke="${stroke}" stroke-width="2"/>`,
  },
  {
    articleType: 'Caps',
    masterCategory: 'Accessories',
    subCategory: 'Headwear',
    noun: 'Cap',
    genders: ['Men', 'Unisex'],
    usages: ['Casual', 'Sports'],
    draw: (fill, stroke, accent) =>
      `<path d="M62 236 Q62 124 158 124 Q246 124 246 236 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M238 228 Q300 226 290 256 Q250 262 200 246 Z" fill="${fill}" stroke="${stroke}" stroke-width="3" stroke-linejoin="round"/>
       <path d="M158 124 L158 236 M110 136 Q100 190 104 236 M204 136 Q214 190 212 236" fill="none" stroke="${stroke}" stroke-width="1.5" opacity="0.7"/>
       <circle cx="158" cy="124" r="7" fill="${accent}" stroke="${stroke}" stroke-width="2"/>
       <rect x="62" y="226" width="184" height="12" fill="${accent}" opacity="0.85"/>`,
  },
];

/** mulberry32: a small, fast, seedable generator in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

function shade(hex: string, factor: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const ch = (v: number) =>
    Math.max(0, Math.min(255, Math.round(factor < 1 ? v * factor : v + (255 - v) * (factor - 1))));
  const r = ch((n >> 16) & 255);
  const g = ch((n >> 8) & 255);
  const b = ch(n & 255);
  return `#${((r << 16) | (g << 8) | b).toString(16).padStart(6, '0')}`;
}

function patternDef(pattern: Pattern, base: string, second: string, rnd: () => number): string {
  const size = 14 + Math.floor(rnd() * 16);
  const angle = pick(rnd, [0, 0, 45, 90, -30]);
  switch (pattern) {
    case 'solid':
      return '';
    case 'stripes':
      return `<pattern id="p" patternUnits="userSpaceOnUse" width="${size}" height="${size}" patternTransform="rotate(${angle})">
        <rect width="${size}" height="${size}" fill="${base}"/><rect width="${size}" height="${Math.round(size * 0.4)}" fill="${second}"/></pattern>`;
    case 'dots':
      return `<pattern id="p" patternUnits="userSpaceOnUse" width="${size}" height="${size}">
        <rect width="${size}" height="${size}" fill="${base}"/><circle cx="${size / 2}" cy="${size / 2}" r="${(size * 0.22).toFixed(1)}" fill="${second}"/></pattern>`;
    case 'checks':
      return `<pattern id="p" patternUnits="userSpaceOnUse" width="${size * 2}" height="${size * 2}" patternTransform="rotate(${angle === 90 ? 0 : angle})">
        <rect width="${size * 2}" height="${size * 2}" fill="${base}"/>
        <rect width="${size}" height="${size * 2}" fill="${second}" opacity="0.55"/>
        <rect width="${size * 2}" height="${size}" fill="${second}" opacity="0.55"/></pattern>`;
  }
}

/** Draws one item as an SVG string (300×400 user units, scaled to `width`). */
function drawSvg(kind: Kind, colourHex: string, pattern: Pattern, secondHex: string, rnd: () => number, width: number) {
  const height = Math.round((width * 4) / 3);
  const fill = pattern === 'solid' ? colourHex : 'url(#p)';
  const stroke = shade(colourHex, colourHex === '#1c1c1e' ? 1.6 : 0.6);
  const accent = pick(rnd, ['#d4af37', '#ffffff', '#222222', shade(secondHex, 0.8)]);
  const scale = 0.82 + rnd() * 0.2;
  const rot = (rnd() - 0.5) * 8;
  const dx = (rnd() - 0.5) * 24;
  const dy = (rnd() - 0.5) * 20;
  const bg = pick(rnd, ['#ffffff', '#ffffff', '#fafafa', '#f6f6f4']);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 300 400">
  <defs>${patternDef(pattern, colourHex, secondHex, rnd)}
    <radialGradient id="sh"><stop offset="0" stop-color="#000" stop-opacity="0.22"/><stop offset="1" stop-color="#000" stop-opacity="0"/></radialGradient>
    <linearGradient id="light" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#fff" stop-opacity="0.18"/><stop offset="0.6" stop-color="#fff" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.12"/></linearGradient>
  </defs>
  <rect width="300" height="400" fill="${bg}"/>
  <ellipse cx="${150 + dx}" cy="${372 + dy / 3}" rx="${110 * scale}" ry="12" fill="url(#sh)"/>
  <g transform="translate(${150 + dx} ${200 + dy}) rotate(${rot.toFixed(2)}) scale(${scale.toFixed(3)}) translate(-150 -200)">
    ${kind.draw(fill, stroke, accent, rnd)}
  </g>
</svg>`;
}

/**
 * Draws a labelled synthetic catalog into `outDir`: `images/<id>.jpg` (every 10th a PNG) and
 * `labels.csv` in the Kaggle `styles.csv` format. The demo CLI uses count ≥ 400; tests may ask
 * for fewer. The same seed gives the same catalog.
 */
export async function generateDemoCatalog(outDir: string, options: DemoCatalogOptions = {}): Promise<DemoCatalog> {
  const count = options.count ?? 400;
  const seed = options.seed ?? 42;
  const width = options.width ?? 300;
  const firstId = options.firstId ?? 10000;
  if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
  const imagesDir = join(outDir, 'images');
  await mkdir(imagesDir, { recursive: true });
  const rnd = rng(seed);
  const items: DemoItem[] = [];
  const jobs: { item: DemoItem; svg: string; png: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const colour = pick(rnd, COLOURS);
    let second = pick(rnd, COLOURS);
    if (second.name === colour.name) second = COLOURS[(COLOURS.indexOf(colour) + 3) % COLOURS.length]!;
    const pattern = pick(rnd, ['solid', 'solid', 'stripes', 'dots', 'checks'] as const);
    const id = String(firstId + i);
    const png = i % 10 === 9;
    const gender = pick(rnd, kind.genders);
    const usage = pick(rnd, kind.usages);
    const patternWord = { solid: '', stripes: 'Striped ', dots: 'Polka Dot ', checks: 'Checked ' }[pattern];
    const item: DemoItem = {
      id,
      file: `${id}.${png ? 'png' : 'jpg'}`,
      gender,
      masterCategory: kind.masterCategory,
      subCategory: kind.subCategory,
      articleType: kind.articleType,
      baseColour: colour.name,
      season: pick(rnd, SEASONS),
      year: String(2011 + Math.floor(rnd() * 8)),
      usage,
      productDisplayName: `${pick(rnd, BRANDS)} ${gender} ${colour.name} ${patternWord}${kind.noun}`,
      pattern,
    };
    items.push(item);
    jobs.push({ item, svg: drawSvg(kind, colour.hex, pattern, second.hex, rnd, width), png });
  }
  // Render with a small pool: sharp works on libuv threads.
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const img = sharp(Buffer.from(job.svg)).flatten({ background: '#ffffff' });
      const bytes = job.png
        ? await img.png({ compressionLevel: 6 }).toBuffer()
        : await img.jpeg({ quality: 88 }).toBuffer();
      await writeFile(join(imagesDir, job.item.file), bytes);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const rows = [formatCsvRow(LABEL_COLUMNS)];
  for (const it of items) {
    rows.push(
      formatCsvRow([
        it.id,
        it.gender,
        it.masterCategory,
        it.subCategory,
        it.articleType,
        it.baseColour,
        it.season,
        it.year,
        it.usage,
        it.productDisplayName,
      ]),
    );
  }
  const labelsPath = join(outDir, 'labels.csv');
  await writeFile(labelsPath, `${rows.join('\n')}\n`);
  return { imagesDir, labelsPath, items };
}
