/**
 * The `lookalike` command's global options, taken from anywhere on the line (pure unit tests).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitGlobalOptions } from '../../apps/cli/src/global-options.ts';

describe('global options', () => {
  test('GIVEN --data / --models among a command’s arguments THEN they are taken out, in both spellings', () => {
    assert.deepEqual(splitGlobalOptions(['DIR', '--data', 'd', '--labels', 'l.csv', '--models=m']), {
      ok: true,
      global: { help: false, data: 'd', models: 'm' },
      rest: ['DIR', '--labels', 'l.csv'],
    });
  });

  test('GIVEN --help or -h THEN help; GIVEN `--` THEN nothing after it is taken', () => {
    assert.deepEqual(splitGlobalOptions(['-h']), { ok: true, global: { help: true }, rest: [] });
    assert.deepEqual(splitGlobalOptions(['x', '--', '--data', 'd']), {
      ok: true,
      global: { help: false },
      rest: ['x', '--', '--data', 'd'],
    });
  });

  test('GIVEN --data with no value THEN a usage message, not a crash', () => {
    assert.deepEqual(splitGlobalOptions(['--data']), {
      ok: false,
      message: "Option '--data <value>' argument missing",
    });
    assert.equal(splitGlobalOptions(['--data', '--json']).ok, false);
    assert.equal(splitGlobalOptions(['--models=']).ok, false);
  });
});
