/**
 * CSV for the catalog: the Kaggle `styles.csv` labels format, read with csv-parse (through
 * @lookalike/feeds, which cuts records so every problem names its line), and a row writer.
 */
import { readFile } from 'node:fs/promises';
import { type ItemMetadata, LookalikeError } from '@lookalike/core';
import { isCsvProblem, parseCsvText } from '@lookalike/feeds';

/** One parsed record with the (1-based) line on which it starts. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

const PROBLEM_WORDING = {
  'unterminated-quote': (line: number) => `unterminated quoted field starting on line ${line}`,
  'text-after-quote': (line: number) => `unexpected text after a closing quote on line ${line}`,
  'stray-quote': (line: number) => `stray quote inside an unquoted field on line ${line}`,
  'too-long': (line: number) => `the record on line ${line} is too long`,
  invalid: (line: number) => `unreadable record on line ${line}`,
} as const;

/**
 * Parses CSV text (RFC 4180, csv-parse with relax_quotes off): fields separated by commas,
 * optionally double-quoted, with `""` for a quote inside a quoted field; CRLF or LF line ends; a
 * leading BOM is ignored. Quoted fields may span lines. Empty lines are skipped. Rows may have
 * different numbers of fields (parseLabels repairs the Kaggle file's long rows).
 * @throws LookalikeError LABELS_INVALID with `details.line` on an unterminated quote (the line
 *   where it starts), text after a closing quote, or a quote inside an unquoted field.
 */
export function parseCsv(text: string, source = 'CSV'): CsvRecord[] {
  const records: CsvRecord[] = [];
  for (const r of parseCsvText(text)) {
    if (isCsvProblem(r)) {
      throw new LookalikeError('LABELS_INVALID', `${source}: ${PROBLEM_WORDING[r.reason](r.line)}`, {
        details: { line: r.line, source, reason: r.reason },
      });
    }
    records.push(r);
  }
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
 * columns may be missing, unknown ones are kept as extra metadata. Empty values are left out of
 * the metadata.
 *
 * The Kaggle fix-up: the Kaggle Fashion Product Images `styles.csv` has product names with
 * unquoted commas in its last column (`…,Formal,Turtle Men Formal Black Tie, Cufflink and Pocket
 * Square Combo Set`), which csv-parse rightly reads as extra fields. A row with more fields than
 * the header has its fields from the last column on joined back with "," into the last column
 * (counted in `repairedRows`). This is only right because the extra commas are all in the last
 * column of that file; any other CSV should quote its fields.
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
