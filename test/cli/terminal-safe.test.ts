/**
 * Ids and lines from a feed are untrusted: the terminal tables of `lookalike index --feed` and
 * `lookalike feedback` print them without control characters, so a hostile id cannot clear the
 * screen, move the cursor or add a fake row.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { terminalSafe } from '@lookalike/core';
import { formatFailureTable } from '../../apps/cli/src/commands/index-feed.ts';

const HOSTILE = 'sku-1\u001b[2J\u001b[H\r\n  FEED_ROW_NO_ID  0  forged';

describe('terminal output of feed ids', () => {
  test('GIVEN escape sequences and line breaks THEN terminalSafe turns each run into one space', () => {
    assert.equal(terminalSafe('a\u001b[2Jb\r\n\tc\u0007d'), 'a [2Jb c d');
    assert.equal(terminalSafe('plain id-42'), 'plain id-42');
  });

  test('GIVEN a failure whose first id is hostile THEN the table has one line per code and no control characters', () => {
    const table = formatFailureTable({
      failuresByCode: { FETCH_HTTP_404: { count: 2, first: [HOSTILE, 'sku-2'] } },
    });
    const lines = table.split('\n');
    assert.equal(lines.length, 3, table);
    assert.equal(lines[0], 'Failures by code:');
    assert.match(lines[2]!, /^ {2}FETCH_HTTP_404 +2 {2}sku-1 \[2J \[H FEED_ROW_NO_ID 0 forged, sku-2$/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    assert.doesNotMatch(table, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
