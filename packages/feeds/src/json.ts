/**
 * A JSON feed: one top-level array of product objects, read token by token with stream-json
 * (strings and keys streamed in pieces, never packed by the parser), each element assembled here
 * within `maxRowBytes`. An element that is too long or not an object is a skipped row; a top
 * level that is not an array, nesting deeper than 64 levels or a syntax error is FEED_INVALID.
 */
import { jsonParser, type Token } from 'stream-json/parser.js';
import { type FeedRowSkip, feedInvalid, skip } from './codes.js';
import { type RawRecord, recordOf } from './product.js';

/** stream-chain's "no value" marker: flushes the parser at the end of the input. */
const NONE = Symbol.for('object-stream.none');
const MAX_DEPTH = 64;

type JsonValue = string | null | JsonValue[] | JsonObject;
interface JsonObject {
  entries: [string, JsonValue][];
}
type Frame = { kind: 'array'; items: JsonValue[] } | { kind: 'object'; obj: JsonObject; key: string };

function isObject(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function toPlain(v: JsonValue): unknown {
  if (v === null || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, x] of v.entries) Object.defineProperty(out, k, { value: toPlain(x), enumerable: true });
  return out;
}

/** A nested value as text: `{ value, currency }` (Content API prices) as "49.90 EUR", others as JSON. */
function asText(v: JsonValue): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return JSON.stringify(toPlain(v));
  const value = v.entries.find(([k]) => k === 'value')?.[1];
  const currency = v.entries.find(([k]) => k === 'currency')?.[1];
  if (typeof value === 'string' && typeof currency === 'string') return `${value} ${currency}`;
  return JSON.stringify(toPlain(v));
}

/** A product object's keys and values (arrays become lists of text). */
export function objectRecord(obj: JsonObject, line: number): RawRecord {
  return recordOf(obj.entries, asText, line);
}

/** Assembles the elements of the top-level array from tokens. */
class ElementAssembler {
  readonly #max: number;
  readonly #name: string | undefined;
  #started = false;
  #ended = false;
  #depth = 0;
  #index = 0;
  #bytes = 0;
  #oversized = false;
  #stack: Frame[] = [];
  #text = '';
  #inKey = false;
  readonly out: (RawRecord | FeedRowSkip)[] = [];

  constructor(maxRowBytes: number, name: string | undefined) {
    this.#max = maxRowBytes;
    this.#name = name;
  }

  get elements(): number {
    return this.#index;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #value(v: JsonValue): void {
    const top = this.#stack.at(-1);
    if (top === undefined) {
      this.#finish(v);
      return;
    }
    if (top.kind === 'array') top.items.push(v);
    else top.obj.entries.push([top.key, v]);
  }

  #finish(v: JsonValue | undefined): void {
    const line = this.#index + 1;
    this.#index++;
    if (this.#oversized) {
      this.out.push(skip(line, 'FEED_ROW_MALFORMED', `product ${line} of the array is longer than ${this.#max} bytes`));
    } else if (v === undefined || !isObject(v)) {
      this.out.push(skip(line, 'FEED_ROW_MALFORMED', `element ${line} of the array is not an object`));
    } else {
      this.out.push(objectRecord(v, line));
    }
    this.#oversized = false;
    this.#bytes = 0;
    this.#stack = [];
  }

  #open(frame: Frame | undefined): void {
    this.#depth++;
    if (this.#depth > MAX_DEPTH) {
      throw feedInvalid(`JSON nested deeper than ${MAX_DEPTH} levels in product ${this.#index + 1}`, {
        name: this.#name,
        format: 'json',
      });
    }
    if (!this.#oversized && frame !== undefined) this.#stack.push(frame);
  }

  #close(): void {
    this.#depth--;
    if (this.#depth === 0) {
      this.#ended = true;
      return;
    }
    if (this.#oversized) {
      if (this.#depth === 1) this.#finish(undefined);
      return;
    }
    const frame = this.#stack.pop() as Frame;
    this.#value(frame.kind === 'array' ? frame.items : frame.obj);
  }

  /** A scalar at element level ends the element; oversized elements only count depth. */
  #scalar(v: JsonValue): void {
    if (this.#oversized) {
      if (this.#depth === 1) this.#finish(undefined);
      return;
    }
    this.#value(v);
  }

  consume(t: Token): void {
    if (!this.#started) {
      if (t.name !== 'startArray') {
        throw feedInvalid(
          'a JSON feed must be an array of products ([{…}, {…}]); for one object per line use JSON Lines (.jsonl)',
          { name: this.#name, format: 'json' },
        );
      }
      this.#started = true;
      this.#depth = 1;
      return;
    }
    if (this.#depth >= 1) {
      this.#bytes += t.name === 'stringChunk' || t.name === 'numberChunk' ? t.value.length : 1;
      if (!this.#oversized && this.#bytes > this.#max) {
        this.#oversized = true;
        this.#stack = [];
        this.#text = '';
      }
    }
    switch (t.name) {
      case 'startObject':
        this.#open({ kind: 'object', obj: { entries: [] }, key: '' });
        return;
      case 'startArray':
        this.#open({ kind: 'array', items: [] });
        return;
      case 'endObject':
      case 'endArray':
        this.#close();
        return;
      case 'startKey':
        this.#inKey = true;
        this.#text = '';
        return;
      case 'endKey': {
        this.#inKey = false;
        const top = this.#stack.at(-1);
        if (top?.kind === 'object') top.key = this.#text;
        this.#text = '';
        return;
      }
      case 'startString':
      case 'startNumber':
        this.#text = '';
        return;
      case 'stringChunk':
      case 'numberChunk':
        if (!this.#oversized) this.#text += t.value;
        return;
      case 'endString':
      case 'endNumber':
        if (!this.#inKey) {
          const text = this.#text;
          this.#text = '';
          this.#scalar(text);
        }
        return;
      case 'nullValue':
        this.#scalar(null);
        return;
      case 'trueValue':
      case 'falseValue':
        this.#scalar(String(t.value));
        return;
      default:
        return;
    }
  }
}

/** Streams the products of a JSON array (records, or skipped elements). */
export async function* jsonRecords(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRowBytes: number; name?: string | undefined },
): AsyncGenerator<RawRecord | FeedRowSkip> {
  const parse = jsonParser({ packValues: false, streamValues: true });
  const decoder = new TextDecoder('utf-8');
  const asm = new ElementAssembler(options.maxRowBytes, options.name);
  const feed = (input: string | typeof NONE): void => {
    let result: ReturnType<typeof parse>;
    try {
      result = parse(input as string);
    } catch (err) {
      throw feedInvalid(`JSON syntax error after product ${asm.elements}: ${(err as Error).message}`, {
        name: options.name,
        format: 'json',
      });
    }
    if (typeof result === 'symbol') return;
    for (const t of result.values) asm.consume(t);
  };
  for await (const chunk of chunks) {
    feed(decoder.decode(chunk, { stream: true }));
    if (asm.out.length > 0) {
      yield* asm.out;
      asm.out.length = 0;
    }
  }
  const tail = decoder.decode();
  if (tail !== '') feed(tail);
  feed(NONE);
  yield* asm.out;
  asm.out.length = 0;
  if (!asm.ended) throw feedInvalid('the JSON array is not closed', { name: options.name, format: 'json' });
}
