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
      global: { help: false, version: false, data: 'd', models: 'm' },
      rest: ['DIR', '--labels', 'l.csv'],
    });
  });

  test('GIVEN --help or -h THEN help; GIVEN `--` THEN nothing after it is taken', () => {
    assert.deepEqual(splitGlobalOptions(['-h']), { ok: true, global: { help: true, version: false }, rest: [] });
    assert.deepEqual(splitGlobalOptions(['x', '--', '--data', 'd']), {
      ok: true,
      global: { help: false, version: false },
      rest: ['x', '--', '--data', 'd'],
    });
  });

  test('GIVEN --version anywhere THEN it is taken out; a later --data wins over an earlier one', () => {
    assert.deepEqual(splitGlobalOptions(['--data', 'a', 'index', '--version', '--data=b']), {
      ok: true,
      global: { help: false, version: true, data: 'b' },
      rest: ['index'],
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
