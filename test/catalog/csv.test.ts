import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCsvRow, parseCsv, parseLabels } from '@lookalike/catalog';
import { LookalikeError } from '@lookalike/core';

const HEADER = 'id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName';

describe('CSV parser', () => {
  it('GIVEN quoted fields with commas, escaped quotes and newlines THEN fields are exact', () => {
    const recs = parseCsv('a,"b, c","say ""hi""","multi\nline"\n1,2,3,4\n');
    assert.deepEqual(
      recs.map((r) => r.fields),
      [
        ['a', 'b, c', 'say "hi"', 'multi\nline'],
        ['1', '2', '3', '4'],
      ],
    );
    assert.equal(recs[1]?.line, 3);
  });

  it('GIVEN a BOM, CRLF line ends and blank lines THEN they are ignored', () => {
    const recs = parseCsv('\uFEFFid,name\r\n1,x\r\n\r\n2,"y\r\nz"\r\n');
    assert.deepEqual(
      recs.map((r) => r.fields),
      [
        ['id', 'name'],
        ['1', 'x'],
        ['2', 'y\r\nz'],
      ],
    );
  });

  it('GIVEN empty fields and no final newline THEN empty strings are kept', () => {
    assert.deepEqual(
      parseCsv('a,,c\n,,').map((r) => r.fields),
      [
        ['a', '', 'c'],
        ['', '', ''],
      ],
    );
  });

  it('GIVEN an unterminated quote THEN LABELS_INVALID names the line where it starts', () => {
    assert.throws(
      () => parseCsv('id,name\n1,ok\n2,"never closed\n3,x\n'),
      (err: unknown) => err instanceof LookalikeError && err.code === 'LABELS_INVALID' && err.details.line === 3,
    );
  });

  it('GIVEN text after a closing quote THEN LABELS_INVALID with the line number', () => {
    assert.throws(
      () => parseCsv('id,name\n1,"a"b\n'),
      (err: unknown) => err instanceof LookalikeError && err.code === 'LABELS_INVALID' && err.details.line === 2,
    );
  });

  it('GIVEN fields that need quoting THEN formatCsvRow round-trips them', () => {
    const row = ['1', 'Tie, Cufflink', 'say "hi"', 'plain', ' padded '];
    assert.deepEqual(parseCsv(formatCsvRow(row))[0]?.fields, row);
  });
});

describe('labels (styles.csv format)', () => {
  it('GIVEN the Kaggle columns THEN metadata is keyed by id with every column but id', () => {
    const l = parseLabels(
      `${HEADER}\n15970,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,Turtle Check Men Navy Blue Shirt\n`,
    );
    assert.deepEqual(l.byId.get('15970'), {
      gender: 'Men',
      masterCategory: 'Apparel',
      subCategory: 'Topwear',
      articleType: 'Shirts',
      baseColour: 'Navy Blue',
      season: 'Fall',
      year: '2011',
      usage: 'Casual',
      productDisplayName: 'Turtle Check Men Navy Blue Shirt',
    });
  });

  it('GIVEN a name with an unquoted comma (as in the real Kaggle file) THEN extra fields are rejoined into the last column', () => {
    const l = parseLabels(
      `${HEADER}\n23103,Men,Accessories,Accessories,Accessory Gift Set,Black,Fall,2011,Formal,Turtle Men Formal Black Tie, Cufflink and Pocket Square Combo Set\n`,
    );
    assert.equal(
      l.byId.get('23103')?.productDisplayName,
      'Turtle Men Formal Black Tie, Cufflink and Pocket Square Combo Set',
    );
    assert.equal(l.byId.get('23103')?.usage, 'Formal');
    assert.equal(l.repairedRows, 1);
  });

  it('GIVEN a quoted name with a comma THEN it is one field', () => {
    const l = parseLabels(`${HEADER}\n1,Men,Apparel,Topwear,Shirts,Red,Fall,2011,Casual,"Red Shirt, Slim Fit"\n`);
    assert.equal(l.byId.get('1')?.productDisplayName, 'Red Shirt, Slim Fit');
    assert.equal(l.repairedRows, 0);
  });

  it('GIVEN missing columns and short rows THEN the present values are kept and the rest absent', () => {
    const l = parseLabels('id,articleType,baseColour\n7,Tshirts\n8,Caps,Red\n');
    assert.deepEqual(l.byId.get('7'), { articleType: 'Tshirts' });
    assert.deepEqual(l.byId.get('8'), { articleType: 'Caps', baseColour: 'Red' });
  });

  it('GIVEN unknown extra columns in another order THEN they are kept as extra metadata', () => {
    const l = parseLabels('price,articleType,id,url\r\n9.99,Shoes,42,https://x.test/a?b=1\r\n');
    assert.deepEqual(l.byId.get('42'), { price: '9.99', articleType: 'Shoes', url: 'https://x.test/a?b=1' });
  });

  it('GIVEN a BOM and CRLF THEN the id column is still found', () => {
    const l = parseLabels(`\uFEFF${HEADER}\r\n5,Women,Apparel,Dress,Dresses,Pink,Summer,2012,Party,Pink Dress\r\n`);
    assert.equal(l.byId.get('5')?.articleType, 'Dresses');
  });

  it('GIVEN no id column THEN LABELS_INVALID on line 1', () => {
    assert.throws(
      () => parseLabels('name,articleType\nx,Shirts\n'),
      (err: unknown) => err instanceof LookalikeError && err.code === 'LABELS_INVALID' && err.details.line === 1,
    );
  });

  it('GIVEN an empty id THEN LABELS_INVALID with that line', () => {
    assert.throws(
      () => parseLabels(`${HEADER}\n1,Men\n,Women\n`),
      (err: unknown) => err instanceof LookalikeError && err.code === 'LABELS_INVALID' && err.details.line === 3,
    );
  });

  it('GIVEN the shared sample labels file (../shared, beside the repo) THEN every row parses', async () => {
    const { readFileSync } = await import('node:fs');
    const path = new URL('../../../shared/data/fashion-sample/labels.csv', import.meta.url).pathname;
    const text = readFileSync(path, 'utf8');
    const lines = text.split(/\r?\n/).filter((x) => x.length > 0).length;
    const l = parseLabels(text, path);
    assert.equal(l.byId.size, lines - 1);
    for (const m of l.byId.values()) assert.ok(m.articleType !== undefined && m.productDisplayName !== undefined);
  });
});
