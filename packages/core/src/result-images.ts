/**
 * The individual catalog images of an answer (attached beside the collage by adapters that
 * want them), with safe file names.
 */
import { extname } from 'node:path';
import { asLookalikeError } from './errors.js';
import type { Logger, SimilarItem } from './ports.js';
import type { ResultImage } from './service-types.js';
import { contentTypeOf, extensionOf, sniff } from './sniff.js';

function slug(text: string, max = 40): string {
  const s = text
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, max).replace(/-+$/, '');
}

/** A safe attachment file name like "2-shirts-10017.jpg". */
export function resultFilename(item: SimilarItem, ext: string): string {
  const parts = [String(item.rank), slug(item.metadata.articleType ?? ''), slug(item.id, 60)].filter((p) => p !== '');
  return `${parts.join('-') || 'image'}.${ext}`;
}

/** Loads each result's image; one that cannot be read is logged and left out. */
export async function loadResultImages(
  results: readonly SimilarItem[],
  loadImage: (item: SimilarItem) => Promise<Uint8Array>,
  log: Logger,
): Promise<ResultImage[]> {
  const out: ResultImage[] = [];
  for (const item of results) {
    try {
      const bytes = Buffer.from(await loadImage(item));
      const kind = sniff(bytes);
      const ext = kind.image ? extensionOf(kind.kind) : extname(item.path).slice(1).toLowerCase() || 'bin';
      const contentType = kind.image ? contentTypeOf(kind.kind) : 'application/octet-stream';
      out.push({ rank: item.rank, filename: resultFilename(item, ext), bytes, contentType });
    } catch (err) {
      log.warn({ id: item.id, err: asLookalikeError(err).message }, 'result image unreadable');
    }
  }
  return out;
}
