/**
 * runReindex: the shared /reindex flow once the caller is an admin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgressThrottle, massRemovalOf, runReindex } from '@lookalike/chat';
import { LookalikeError, USER_MESSAGES } from '@lookalike/core';
import { fakeService, manualClock, massRemovalRefusal, progress, recordingLogger, SUMMARY } from './fakes.js';

const texts = {
  progress: (p: { done: number }) => `p${p.done}`,
  summary: (s: { added: number }) => `done: ${s.added} added`,
  inProgress: (e: LookalikeError, p: { done: number } | null) => `${e.userMessage} (${p?.done ?? '?'})`,
  failed: (e: LookalikeError) => `failed: ${e.userMessage}`,
};

function throttled() {
  const written: string[] = [];
  const clock = manualClock();
  const throttle = createProgressThrottle({
    intervalMs: 1000,
    clock,
    write: async (t) => void written.push(t),
    onWriteError: () => {},
  });
  return { written, clock, throttle };
}

test('GIVEN a reindex with progress THEN onProgress sees every event, progress goes through the throttle and the summary is written last', async () => {
  const { written, clock, throttle } = throttled();
  const seen: number[] = [];
  const service = fakeService({
    reindex: async (onProgress) => {
      onProgress(progress(10));
      clock.advance(10);
      onProgress(progress(20));
      onProgress(progress(30));
      return SUMMARY;
    },
  });
  const outcome = await runReindex({
    service,
    log: recordingLogger(),
    throttle,
    texts,
    onProgress: (p) => void seen.push(p.done),
  });
  assert.equal(outcome.kind, 'done');
  assert.deepEqual(seen, [10, 20, 30]);
  assert.deepEqual(written, ['p10', 'done: 2 added'], 'the waiting 30% is dropped for the summary');
  assert.equal(clock.pending(), 0);
});

test('GIVEN a reindex already running THEN the final text shows its progress and onProgress is never called', async () => {
  const { written, throttle } = throttled();
  let started = false;
  const service = fakeService({
    reindex: async () => {
      throw new LookalikeError('REINDEX_IN_PROGRESS', 'busy', { details: { progress: progress(42) } });
    },
  });
  const outcome = await runReindex({
    service,
    log: recordingLogger(),
    throttle,
    texts,
    onProgress: () => {
      started = true;
    },
  });
  assert.equal(outcome.kind, 'in-progress');
  assert.equal(started, false, 'this run never started');
  assert.deepEqual(written, [`${USER_MESSAGES.REINDEX_IN_PROGRESS} (42)`]);
});

test('GIVEN a failing reindex THEN the failure text is written and an internal error is logged at error', async () => {
  const log = recordingLogger();
  const service = fakeService({
    reindex: async () => {
      throw new LookalikeError('CATALOG_NOT_FOUND', 'no folder');
    },
  });
  const outcome = await runReindex({ service, log, texts });
  assert.equal(outcome.kind, 'failed');
  assert.match(outcome.text, /^failed: Something went wrong/);
  assert.equal(log.entries.find((e) => e.msg === 'reindex failed')?.level, 'error');
});

test('GIVEN the catalog refuses a mass removal THEN the outcome asks for confirmation with the counts, and the throttle writes nothing more', async () => {
  const { written, clock, throttle } = throttled();
  const log = recordingLogger();
  const service = fakeService({
    reindex: async (onProgress) => {
      onProgress(progress(0));
      clock.advance(10);
      onProgress(progress(0)); // waits for the interval: it must never be written
      throw massRemovalRefusal(30, 40);
    },
  });
  const outcome = await runReindex({
    service,
    log,
    throttle,
    texts: { ...texts, needsConfirmation: (e, r) => `confirm ${r.wouldRemove}/${r.total}: ${e.userMessage}` },
  });
  assert.equal(outcome.kind, 'needs-confirmation');
  assert.ok(outcome.kind === 'needs-confirmation');
  assert.deepEqual(outcome.removal, { wouldRemove: 30, total: 40, imagesDir: '/catalog/images', folderMissing: false });
  assert.match(outcome.text, /^confirm 30\/40: This reindex would remove 30 of the 40 items/);
  assert.deepEqual(written, ['p0'], 'only the first progress went out; the caller writes the confirmation');
  assert.equal(clock.pending(), 0, 'no progress write is left waiting');
  clock.advance(5000);
  assert.deepEqual(written, ['p0']);
  assert.deepEqual(service.reindexOptions, [{ allowRemovals: false }]);
  const entry = log.entries.find((e) => e.msg?.startsWith('reindex refused'));
  assert.equal(entry?.level, 'warn');
  assert.equal(entry?.obj.wouldRemove, 30);
});

test('GIVEN no needsConfirmation text THEN the catalog sentence is the text; allowRemovals reaches the service', async () => {
  const refused = await runReindex({
    service: fakeService({ reindex: async () => Promise.reject(massRemovalRefusal(5, 5)) }),
    log: recordingLogger(),
    texts,
  });
  assert.equal(refused.text, massRemovalRefusal(5, 5).userMessage);
  const service = fakeService();
  const outcome = await runReindex({ service, log: recordingLogger(), texts, allowRemovals: true });
  assert.equal(outcome.kind, 'done');
  assert.deepEqual(service.reindexOptions, [{ allowRemovals: true }]);
});

test('GIVEN maxRemovals THEN the confirmed count reaches the service with allowRemovals', async () => {
  const service = fakeService();
  const outcome = await runReindex({ service, log: recordingLogger(), texts, allowRemovals: true, maxRemovals: 7 });
  assert.equal(outcome.kind, 'done');
  assert.deepEqual(service.reindexOptions, [{ allowRemovals: true, maxRemovals: 7 }]);
});

test('GIVEN a REINDEX_MASS_REMOVAL error THEN massRemovalOf reads its counts, and missing details read as zero', () => {
  assert.deepEqual(massRemovalOf(massRemovalRefusal(3, 4)), {
    wouldRemove: 3,
    total: 4,
    imagesDir: '/catalog/images',
    folderMissing: false,
  });
  assert.deepEqual(massRemovalOf(new LookalikeError('REINDEX_MASS_REMOVAL', 'x')), {
    wouldRemove: 0,
    total: 0,
    imagesDir: undefined,
    folderMissing: false,
  });
});
