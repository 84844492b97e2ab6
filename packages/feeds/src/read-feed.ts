/**
 * readFeed: bytes in, products (or skipped rows with their codes) out, one at a time.
 */
import { ByteReader, bomLength, gunzip, isGzip } from './bytes.js';
import { type FeedRowSkip, feedInvalid, skip } from './codes.js';
import { type ColumnPlan, type FieldMap, hasColumn, knownNamesOf, planColumns } from './columns.js';
import { csvRows, DEFAULT_MAX_ROW_BYTES, isCsvProblem } from './csv.js';
import { detectFeedFormat } from './detect.js';
import { IdSet } from './id-set.js';
import { jsonRecords } from './json.js';
import { jsonlRecords } from './jsonl.js';
import { type BuildContext, type BuiltRow, buildProduct, type RawRecord } from './product.js';
import { isShopifyHeader, ShopifyFolder } from './shopify.js';
import type { FeedField, FeedFormat, FeedRow, ReadFeedOptions } from './types.js';
import { xmlRecords } from './xml.js';

/** Bytes looked at to detect the format. */
const HEAD_BYTES = 16 * 1024;

interface Context {
  name: string | undefined;
  format: FeedFormat;
  map: FieldMap;
  build: BuildContext;
  maxRowBytes: number;
}

function missingColumn(field: FeedField, header: readonly string[], ctx: Context, line: number) {
  const looked = [ctx.map[field], ...knownNamesOf(field)].filter((x) => x !== undefined).join(', ');
  const found = header.slice(0, 30).join(', ');
  return feedInvalid(
    `the header has no ${field === 'id' ? 'id' : 'image'} column (looked for ${looked}; found ${found}); name it with --map ${field}=COLUMN`,
    { name: ctx.name, line, format: ctx.format },
  );
}

/** CSV/TSV: the header is read once; Shopify exports fold their rows per Handle. */
async function* delimitedProducts(chunks: AsyncIterable<Uint8Array>, ctx: Context): AsyncGenerator<BuiltRow> {
  let header: string[] | undefined;
  let plan: ColumnPlan | undefined;
  let folder: ShopifyFolder | undefined;
  const delimiter = ctx.format === 'tsv' ? '\t' : ',';
  for await (const r of csvRows(chunks, { delimiter, maxRowBytes: ctx.maxRowBytes })) {
    if (header === undefined) {
      if (isCsvProblem(r)) {
        throw feedInvalid(`the header row cannot be read: ${r.message}`, {
          name: ctx.name,
          line: r.line,
          format: ctx.format,
        });
      }
      header = r.fields.map((h) => h.trim());
      if (isShopifyHeader(header)) {
        folder = new ShopifyFolder(header, ctx.map, ctx.build);
        plan = planColumns(header, { ...ctx.map, id: ctx.map.id ?? 'Handle' });
      } else plan = planColumns(header, ctx.map);
      if (!hasColumn(plan, 'id')) throw missingColumn('id', header, ctx, r.line);
      if (!hasColumn(plan, 'imageUrl')) throw missingColumn('imageUrl', header, ctx, r.line);
      continue;
    }
    if (isCsvProblem(r)) {
      yield skip(r.line, 'FEED_ROW_MALFORMED', r.message);
      continue;
    }
    const rec: RawRecord = { line: r.line, names: header, values: r.fields };
    if (folder !== undefined) {
      const done = folder.push(rec);
      if (done !== undefined) yield done;
    } else yield buildProduct(rec, plan as ColumnPlan, ctx.build);
  }
  if (header === undefined) throw feedInvalid('the feed has no header row', { name: ctx.name, format: ctx.format });
  const last = folder?.flush();
  if (last !== undefined) yield last;
}

/** JSON, JSON Lines, XML: every record has its own names; plans are cached by their names. */
async function* namedProducts(records: AsyncIterable<RawRecord | FeedRowSkip>, ctx: Context): AsyncGenerator<BuiltRow> {
  const plans = new Map<string, ColumnPlan>();
  for await (const r of records) {
    if ('ok' in r) {
      yield r;
      continue;
    }
    const key = r.names.join('\u0000');
    let plan = plans.get(key);
    if (plan === undefined) {
      if (plans.size >= 256) plans.clear();
      plan = planColumns(r.names, ctx.map);
      plans.set(key, plan);
    }
    yield buildProduct(r, plan, ctx.build);
  }
}

/**
 * Reads a product feed as a stream: memory stays bounded (a row at a time, at most
 * `maxRowBytes` each, plus 11–21 bytes per product id for duplicate detection) however large the
 * feed. gzip is taken off, a UTF-8 BOM is dropped, the format is detected unless given.
 *
 * Yields `{ ok: true, product, line }`, or `{ ok: false, line, code, message }` for a row that is
 * skipped: FEED_ROW_NO_ID, FEED_ROW_NO_IMAGE, FEED_ROW_BAD_URL, FEED_ROW_DUPLICATE_ID (the first
 * row with an id wins), FEED_ROW_MALFORMED (broken quotes, bad JSON, too long, not an object),
 * FEED_ROW_INACTIVE (Shopify draft/archived).
 * @throws LookalikeError FEED_INVALID for a feed that cannot be read at all: unknown format, a
 *   CSV/TSV header without an id or image column, JSON that is not an array, XML with a DOCTYPE
 *   or that is not well-formed, no items. Errors of `input` itself (a download) pass through.
 *   `input` is closed (its `return()` awaited) when reading stops early or the feed is refused.
 */
export async function* readFeed(
  input: AsyncIterable<Uint8Array>,
  options: ReadFeedOptions = {},
): AsyncGenerator<FeedRow> {
  let reader = new ByteReader(input);
  let format: FeedFormat;
  try {
    let head = await reader.head(HEAD_BYTES);
    if (isGzip(head)) {
      reader = new ByteReader(gunzip(reader.chunks(), options.name));
      head = await reader.head(HEAD_BYTES);
    }
    reader.skip(bomLength(head));
    format = options.format ?? detectFeedFormat(head, options.name);
  } catch (err) {
    // Refused before any row (not a feed, bad gzip): the input (a download) is closed, not left
    // open; the refusal is what is thrown, not a failure to close.
    await reader.close().catch(() => {});
    throw err;
  }
  const ctx: Context = {
    name: options.name,
    format,
    map: options.map ?? {},
    build: { baseUrl: options.baseUrl, currency: options.currency },
    maxRowBytes: options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES,
  };
  const chunks = reader.chunks();
  let products: AsyncGenerator<BuiltRow>;
  if (format === 'csv' || format === 'tsv') products = delimitedProducts(chunks, ctx);
  else if (format === 'json') products = namedProducts(jsonRecords(chunks, ctx), ctx);
  else if (format === 'jsonl') products = namedProducts(jsonlRecords(chunks, ctx), ctx);
  else products = namedProducts(xmlRecords(chunks, ctx), ctx);
  const ids = new IdSet();
  for await (const row of products) {
    if (row.ok && !ids.add(row.product.id)) {
      yield skip(
        row.line,
        'FEED_ROW_DUPLICATE_ID',
        `product id ${row.product.id} appeared before (the first row wins)`,
      );
      continue;
    }
    yield row;
  }
}
