/**
 * A small RFC 4180 CSV reader/writer and the Kaggle `styles.csv` labels format on top of it.
 */
import { readFile } from 'node:fs/promises';
import { type ItemMetadata, LookalikeError } from '@lookalike/core';

/** One parsed record with the (1-based) line on which it starts. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Parses CSV text (RFC 4180): fields separated by commas, optionally double-quoted, with `""`
 * for a quote inside a quoted field; CRLF, LF or CR line ends; a leading BOM is ignored.
 * Quoted fields may span lines. Empty lines are skipped.
 * @throws LookalikeError LABELS_INVALID with `details.line` on an unterminated quote or
 *   text after a closing quote.
 */
export function parseCsv(text: string, source = 'CSV'): CsvRecord[] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let atFieldStart = true;
  let rowHasContent = false;
  const n = s.length;
  const endRecord = () => {
    fields.push(field);
    if (rowHasContent || fields.length > 1 || fields[0] !== '') records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    atFieldStart = true;
    rowHasContent = false;
  };
  while (i < n) {
    const c = s[i]!;
    if (atFieldStart && c === '"') {
      // Quoted field.
      const startLine = line;
      i++;
      let closed = false;
      while (i < n) {
        const d = s[i]!;
        if (d === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        if (d === '\n' || (d === '\r' && s[i + 1] !== '\n')) line++;
        field += d;
        i++;
      }
      if (!closed) {
        throw new LookalikeError(
          'LABELS_INVALID',
          `${source}: unterminated quoted field starting on line ${startLine}`,
          {
            details: { line: startLine, source },
          },
        );
      }
      rowHasContent = true;
      atFieldStart = false;
      const next = s[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new LookalikeError('LABELS_INVALID', `${source}: unexpected text after a closing quote on line ${line}`, {
          details: { line, source },
        });
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      rowHasContent = true;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (c === '"') {
      throw new LookalikeError('LABELS_INVALID', `${source}: stray quote inside an unquoted field on line ${line}`, {
        details: { line, source },
      });
    }
    field += c;
    atFieldStart = false;
    rowHasContent = true;
    i++;
  }
  if (!atFieldStart || fields.length > 0 || field !== '') endRecord();
  return records;
}

/** Formats one CSV row, quoting fields that need it. */
export function formatCsvRow(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) || f !== f.trim() ? `"${f.replaceAll('"', '""')}"` : f)).join(',');
}

/** The Kaggle Fashion Product Images `styles.csv` columns, in order. */
export const LABEL_COLUMNS = [
  'id',
  'gender',
  'masterCategory',
  'subCategory',
  'articleType',
  'baseColour',
  'season',
  'year',
  'usage',
  'productDisplayName',
] as const;

export interface Labels {
  /** Metadata by item id (the image file stem). */
  byId: Map<string, ItemMetadata>;
  /** Header columns as found in the file. */
  columns: string[];
  /** Rows whose extra unquoted commas were folded back into the last column. */
  repairedRows: number;
}

/**
 * Parses labels in the `styles.csv` format. The header must have an `id` column; other known
 * columns may be missing, unknown ones are kept as extra metadata. A row with more fields than
 * the header (the Kaggle file has names with unquoted commas) has its trailing fields joined
 * back into the last column. Empty values are left out of the metadata.
 * @throws LookalikeError LABELS_INVALID with `details.line`
 */
export function parseLabels(text: string, source = 'labels'): Labels {
  const records = parseCsv(text, source);
  const header = records[0];
  if (header === undefined) return { byId: new Map(), columns: [], repairedRows: 0 };
  const columns = header.fields.map((h) => h.trim());
  const idCol = columns.findIndex((c) => c.toLowerCase() === 'id');
  if (idCol < 0) {
    throw new LookalikeError('LABELS_INVALID', `${source}: line ${header.line}: the header has no "id" column`, {
      details: { line: header.line, source, columns },
    });
  }
  const byId = new Map<string, ItemMetadata>();
  let repairedRows = 0;
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    let fields = rec.fields;
    if (fields.length > columns.length) {
      const last = columns.length - 1;
      fields = [...fields.slice(0, last), fields.slice(last).join(',')];
      repairedRows++;
    }
    const id = (fields[idCol] ?? '').trim();
    if (id === '') {
      throw new LookalikeError('LABELS_INVALID', `${source}: line ${rec.line}: empty id`, {
        details: { line: rec.line, source },
      });
    }
    const meta: ItemMetadata = {};
    for (let c = 0; c < columns.length; c++) {
      if (c === idCol) continue;
      const name = columns[c]!;
      const value = (fields[c] ?? '').trim();
      if (name === '' || value === '') continue;
      meta[name] = value;
    }
    byId.set(id, meta);
  }
  return { byId, columns, repairedRows };
}

/**
 * Reads and parses a labels file.
 * @throws LookalikeError LABELS_INVALID (unreadable file or bad CSV)
 */
export async function readLabels(path: string): Promise<Labels> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LookalikeError('LABELS_INVALID', `Cannot read labels file ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  return parseLabels(text, path);
}
