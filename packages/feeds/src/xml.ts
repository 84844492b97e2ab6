/**
 * RSS 2.0 `<item>` and Atom `<entry>` feeds with the Google Merchant namespace (`g:`,
 * http://base.google.com/ns/1.0), read with saxes. No entity is ever expanded: a DOCTYPE (the
 * only place an entity can be declared) is FEED_INVALID, and an undefined entity skips its item.
 * Memory is bounded: an item longer than `maxRowBytes` is skipped, and any single text, comment
 * or tag longer than that is FEED_INVALID (saxes holds a text whole until its end).
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { type FeedRowSkip, feedInvalid, skip } from './codes.js';
import type { RawRecord, RawValue } from './product.js';

export const GOOGLE_NS = 'http://base.google.com/ns/1.0';
const ATOM_NS = 'http://www.w3.org/2005/Atom';

interface Item {
  line: number;
  depth: number;
  names: string[];
  values: (string | string[])[];
  bytes: number;
  oversized: boolean;
  entity: boolean;
}

/** The encoding named by an XML declaration (`<?xml … encoding="ISO-8859-1"?>`), when TextDecoder knows it. */
function declaredEncoding(head: Buffer): string {
  const m = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head.subarray(0, 200).toString('latin1'));
  const label = m?.[1];
  if (label === undefined) return 'utf-8';
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return 'utf-8';
  }
}

function keyOf(tag: SaxesTagNS): string {
  if (tag.uri === GOOGLE_NS || tag.prefix === '' || tag.uri === ATOM_NS) return tag.local;
  return tag.name;
}

export async function* xmlRecords(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRowBytes: number; name?: string | undefined },
): AsyncGenerator<RawRecord | FeedRowSkip> {
  const max = options.maxRowBytes;
  const ctx = { name: options.name, format: 'xml' };
  const parser = new SaxesParser({ xmlns: true, position: true, additionalNamespaces: { g: GOOGLE_NS } });
  const out: (RawRecord | FeedRowSkip)[] = [];
  let depth = 0;
  let items = 0;
  let item: Item | undefined;
  let child: { key: string; text: string } | undefined;
  let sinceEvent = 0;
  const seen = (): void => {
    sinceEvent = 0;
  };
  const grow = (n: number): void => {
    if (item === undefined) return;
    item.bytes += n;
    if (item.bytes > max) item.oversized = true;
  };

  parser.on('doctype', () => {
    throw feedInvalid(
      'XML with a DOCTYPE is refused (entities are never expanded); if this is an HTML page, the feed URL is wrong',
      { ...ctx, line: parser.line },
    );
  });
  parser.on('error', (err) => {
    if (/undefined entity/.test(err.message) && item !== undefined) {
      item.entity = true;
      return;
    }
    throw feedInvalid(`XML is not well-formed: ${err.message}`, { ...ctx, line: parser.line }, err);
  });
  parser.on('opentagstart', seen);
  parser.on('comment', seen);
  parser.on('processinginstruction', seen);
  parser.on('attribute', (attr) => {
    seen();
    grow(attr.name.length + attr.value.length);
  });
  parser.on('opentag', (tag) => {
    seen();
    depth++;
    if (item === undefined) {
      if (tag.local === 'item' || tag.local === 'entry') {
        item = { line: parser.line, depth, names: [], values: [], bytes: 0, oversized: false, entity: false };
      }
      return;
    }
    if (depth !== item.depth + 1) return;
    const key = keyOf(tag);
    child = { key, text: '' };
    // Atom links carry the URL in href (rel="alternate", the product page, or no rel).
    if (tag.local === 'link') {
      const href = tag.attributes.href?.value;
      const rel = tag.attributes.rel?.value;
      if (href !== undefined && (rel === undefined || rel === 'alternate')) child.text = href;
      else if (href !== undefined) child = undefined;
    }
  });
  const onText = (text: string): void => {
    seen();
    if (item === undefined) return;
    grow(text.length);
    if (child !== undefined && depth === item.depth + 1 && !item.oversized) child.text += text;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    seen();
    if (item !== undefined && depth === item.depth + 1 && child !== undefined) {
      const text = child.text.trim();
      if (text !== '' && !item.oversized) {
        const at = item.names.indexOf(child.key);
        if (at < 0) {
          item.names.push(child.key);
          item.values.push(text);
        } else {
          const prev = item.values[at] as string | string[];
          item.values[at] = typeof prev === 'string' ? [prev, text] : [...prev, text];
        }
      }
      child = undefined;
    } else if (item !== undefined && depth === item.depth) {
      items++;
      if (item.oversized) {
        out.push(skip(item.line, 'FEED_ROW_MALFORMED', `the item is longer than ${max} bytes`));
      } else if (item.entity) {
        out.push(
          skip(
            item.line,
            'FEED_ROW_MALFORMED',
            'an undefined entity (only &amp; &lt; &gt; &quot; &apos; and numeric references exist in XML)',
          ),
        );
      } else {
        out.push({ line: item.line, names: item.names, values: item.values as RawValue[] });
      }
      item = undefined;
      child = undefined;
    }
    depth--;
  });

  let decoder: TextDecoder | undefined;
  for await (const chunk of chunks) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    decoder ??= new TextDecoder(declaredEncoding(buf));
    sinceEvent += buf.length;
    parser.write(decoder.decode(buf, { stream: true }));
    if (sinceEvent > max) {
      throw feedInvalid(`an XML text, comment or tag is longer than ${max} bytes`, { ...ctx, line: parser.line });
    }
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  const tail = decoder?.decode() ?? '';
  if (tail !== '') parser.write(tail);
  parser.close();
  yield* out;
  if (items === 0) {
    throw feedInvalid('the XML has no <item> (RSS 2.0) or <entry> (Atom) elements', ctx);
  }
}
