/**
 * Assertions shared by the tests.
 */
import assert from 'node:assert/strict';
import { LookalikeError } from '@lookalike/core';

/**
 * Awaits `p` and asserts that it rejects with a `LookalikeError` whose code is `code` and whose
 * user-facing sentence is plain text (no stack trace). Returns the error for further checks.
 */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<LookalikeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LookalikeError, `expected a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.ok(err.userMessage.length > 0 && !err.userMessage.includes('    at '), 'a plain sentence, no stack');
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}
