/**
 * Feeding readFeed in tests: bytes in small pieces (so every parser meets chunk boundaries inside
 * quotes, tags, escapes and multi-byte characters), and the rows collected.
 */
import { type FeedRow, type ReadFeedOptions, readFeed } from '@lookalike/feeds';

/** `content` as an async iterable of pieces of `size` bytes. */
export async function* pieces(content: string | Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

/** Every row of the feed. */
export async function rowsOf(
  content: string | Uint8Array,
  options: ReadFeedOptions = {},
  size = 7,
): Promise<FeedRow[]> {
  const rows: FeedRow[] = [];
  for await (const row of readFeed(pieces(content, size), options)) rows.push(row);
  return rows;
}

/** The products read (rows that are ok), by id. */
export function productsOf(rows: readonly FeedRow[]) {
  return new Map(rows.flatMap((r) => (r.ok ? [[r.product.id, r.product] as const] : [])));
}

/** The skipped rows as [line, code]. */
export function skipsOf(rows: readonly FeedRow[]): [number, string][] {
  return rows.flatMap((r) => (r.ok ? [] : [[r.line, r.code] as [number, string]]));
}
