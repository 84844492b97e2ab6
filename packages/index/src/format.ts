/**
 * The index file format (pure: no I/O).
 *
 *   MAGIC 'LKLIDX01' | u32 LE header length | header JSON | ids | FAISS bytes (`write_index`)
 *
 * `ids` holds one float64 LE per FAISS position: the item id stored there, or NaN for a
 * tombstone (an HNSW item removed but still in the graph). Format 2 added tombstones (and the
 * header's `live`); format 1 files (no tombstones) still load. Both sections carry a SHA-256 that
 * is checked before FAISS sees a byte (FAISS aborts the process on some malformed inputs).
 */
import { createHash } from 'node:crypto';
import { LookalikeError } from '@lookalike/core';
import type { IndexKind } from './types.js';

export const MAGIC = 'LKLIDX01';
export const FORMAT_VERSION = 2;
const LEAD = MAGIC.length + 4;

export interface FileHeader {
  format: number;
  kind: IndexKind;
  dimension: number;
  /** FAISS positions (live items + tombstones). */
  count: number;
  /** Live items (format 2; equals count in format 1). */
  live: number;
  M: number | null;
  efSearch: number | null;
  idsBytes: number;
  faissBytes: number;
  idsSha256: string;
  faissSha256: string;
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** MAGIC, header length and header JSON: everything before the ids. */
export function encodeLead(header: FileHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(LEAD);
  lead.write(MAGIC, 0, 'latin1');
  lead.writeUInt32LE(json.length, MAGIC.length);
  return Buffer.concat([lead, json]);
}

export function corrupt(path: string, why: string, cause?: unknown): LookalikeError {
  return new LookalikeError('INDEX_CORRUPT', `index file ${path} is corrupt or truncated: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { path },
  });
}

function parseHeader(path: string, raw: unknown): FileHeader {
  const h = raw as Partial<FileHeader> | null;
  const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!h || (h.format !== 1 && h.format !== FORMAT_VERSION)) {
    throw corrupt(path, `unsupported format ${String(h?.format)} (this version reads 1 and ${FORMAT_VERSION})`);
  }
  const live = h.format === 1 ? h.count : h.live;
  if (
    (h.kind !== 'flat' && h.kind !== 'hnsw' && h.kind !== 'flat-sq8') ||
    !int(h.dimension) ||
    !int(h.count) ||
    !int(live) ||
    (live as number) > (h.count as number) ||
    (h.kind !== 'hnsw' && live !== h.count) ||
    !int(h.idsBytes) ||
    !int(h.faissBytes) ||
    typeof h.idsSha256 !== 'string' ||
    typeof h.faissSha256 !== 'string' ||
    (h.M !== null && !int(h.M)) ||
    (h.efSearch !== null && !int(h.efSearch)) ||
    h.idsBytes !== (h.count as number) * 8
  ) {
    throw corrupt(path, 'bad header');
  }
  return { ...(h as FileHeader), live: live as number };
}

export interface ParsedFile {
  header: FileHeader;
  /** Per FAISS position: the id, or NaN for a tombstone. A fresh, transferable buffer. */
  ids: Float64Array;
  /** FAISS's serialization (a view into the file buffer). */
  faiss: Buffer;
}

/** Checks magic, header, lengths, checksums and ids; throws INDEX_CORRUPT on any mismatch. */
export function parseFile(path: string, file: Buffer, expectDimension?: number): ParsedFile {
  if (file.length < LEAD || file.toString('latin1', 0, MAGIC.length) !== MAGIC)
    throw corrupt(path, 'not a lookalike index file');
  const headerLen = file.readUInt32LE(MAGIC.length);
  if (LEAD + headerLen > file.length) throw corrupt(path, 'header runs past the end of the file');
  let raw: unknown;
  try {
    raw = JSON.parse(file.toString('utf8', LEAD, LEAD + headerLen));
  } catch (err) {
    throw corrupt(path, 'header is not JSON', err);
  }
  const header = parseHeader(path, raw);
  const idsStart = LEAD + headerLen;
  const faissStart = idsStart + header.idsBytes;
  if (faissStart + header.faissBytes !== file.length) {
    throw corrupt(path, `expected ${faissStart + header.faissBytes} bytes, found ${file.length}`);
  }
  const idsBuf = file.subarray(idsStart, faissStart);
  const faiss = file.subarray(faissStart);
  if (sha256(idsBuf) !== header.idsSha256 || sha256(faiss) !== header.faissSha256)
    throw corrupt(path, 'checksum mismatch');
  if (expectDimension !== undefined && expectDimension !== header.dimension) {
    throw corrupt(path, `dimension ${header.dimension}, expected ${expectDimension}`);
  }
  const ids = new Float64Array(header.count);
  new Uint8Array(ids.buffer).set(idsBuf);
  const seen = new Set<number>();
  for (const id of ids) {
    if (Number.isNaN(id) && header.format !== 1) continue;
    if (!Number.isSafeInteger(id) || seen.has(id)) throw corrupt(path, `bad or duplicate id ${id}`);
    seen.add(id);
  }
  if (seen.size !== header.live) throw corrupt(path, `${seen.size} live ids, header says ${header.live}`);
  return { header, ids, faiss };
}
