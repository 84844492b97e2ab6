/**
 * The per-message image loop and error reporting shared by Discord and Slack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerImages, logFailure, MAX_IMAGES_PER_MESSAGE, reportFailure, STOP_CODES } from '@lookalike/chat';
import { LookalikeError, USER_MESSAGES } from '@lookalike/core';
import { recordingLogger, serviceError } from './fakes.js';

test('GIVEN more images than the cap THEN the first MAX_IMAGES_PER_MESSAGE are answered, in order, each with its own request id', async () => {
  assert.equal(MAX_IMAGES_PER_MESSAGE, 4);
  const answered: { image: string; requestId: string }[] = [];
  const result = await answerImages({
    images: ['a', 'b', 'c', 'd', 'e', 'f'],
    log: recordingLogger(),
    answer: async ({ image, requestId }) => void answered.push({ image, requestId }),
    replyError: async () => assert.fail('no error expected'),
  });
  assert.deepEqual(
    answered.map((a) => a.image),
    ['a', 'b', 'c', 'd'],
  );
  assert.equal(new Set(answered.map((a) => a.requestId)).size, 4);
  assert.deepEqual(result, { answered: 4, failed: [], skipped: 2 });
});

for (const code of STOP_CODES) {
  test(`GIVEN ${code} on the second image THEN its sentence is replied once and the rest are skipped`, async () => {
    const tried: string[] = [];
    const replies: string[] = [];
    const result = await answerImages({
      images: ['a', 'b', 'c'],
      log: recordingLogger(),
      answer: async ({ image }) => {
        tried.push(image);
        if (image === 'b') throw serviceError(code as 'RATE_LIMITED' | 'BUSY');
      },
      replyError: async (text) => void replies.push(text),
    });
    assert.deepEqual(tried, ['a', 'b']);
    assert.deepEqual(replies, [USER_MESSAGES[code as 'RATE_LIMITED' | 'BUSY']]);
    assert.deepEqual(result, { answered: 1, failed: [code], skipped: 1 });
  });
}

test('GIVEN a user-facing error on one image THEN the others are still answered and the failure is logged at info', async () => {
  const log = recordingLogger();
  const replies: { text: string; index: number }[] = [];
  const result = await answerImages({
    images: ['a', 'b', 'c'],
    log,
    message: 'image post failed',
    answer: async ({ image }) => {
      if (image === 'a') throw serviceError('IMAGE_DECODE_FAILED');
    },
    replyError: async (text, job) => void replies.push({ text, index: job.index }),
  });
  assert.deepEqual(replies, [{ text: USER_MESSAGES.IMAGE_DECODE_FAILED, index: 0 }]);
  assert.deepEqual(result, { answered: 2, failed: ['IMAGE_DECODE_FAILED'], skipped: 0 });
  const entry = log.entries.find((e) => e.msg === 'image post failed');
  assert.equal(entry?.level, 'info');
  assert.equal(entry?.obj.code, 'IMAGE_DECODE_FAILED');
  assert.equal(typeof entry?.bindings.requestId, 'string', 'logged with the image’s request id');
});

test('GIVEN an internal error THEN the generic sentence is replied and the failure is logged at error', async () => {
  const log = recordingLogger();
  const replies: string[] = [];
  await answerImages({
    images: ['a'],
    log,
    answer: async () => {
      throw new Error('boom');
    },
    replyError: async (text) => void replies.push(text),
  });
  assert.equal(replies.length, 1);
  assert.doesNotMatch(replies[0]!, /boom/, 'no internal detail reaches the chat');
  assert.equal(replies[0], new LookalikeError('INTERNAL', 'x').userMessage);
  assert.equal(log.entries.find((e) => e.msg === 'image answer failed')?.level, 'error');
});

test('GIVEN cancellation THEN no further image is tried', async () => {
  let stop = false;
  const tried: string[] = [];
  const result = await answerImages({
    images: ['a', 'b', 'c'],
    log: recordingLogger(),
    cancelled: () => stop,
    answer: async ({ image }) => {
      tried.push(image);
      stop = true;
    },
    replyError: async () => {},
  });
  assert.deepEqual(tried, ['a']);
  assert.equal(result.skipped, 2);
});

test('GIVEN the error reply itself fails THEN it is logged at warn and the loop goes on', async () => {
  const log = recordingLogger();
  const tried: string[] = [];
  await answerImages({
    images: ['a', 'b'],
    log,
    answer: async ({ image }) => {
      tried.push(image);
      throw serviceError('FETCH_FAILED');
    },
    replyError: async () => {
      throw new Error('Slack is down');
    },
  });
  assert.deepEqual(tried, ['a', 'b']);
  assert.equal(log.entries.filter((e) => e.level === 'warn' && e.msg === 'could not post the error message').length, 2);
});

test('GIVEN toError maps a platform error to BUSY THEN the mapped sentence is replied once and the loop stops', async () => {
  const tried: string[] = [];
  const replies: string[] = [];
  const result = await answerImages({
    images: ['a', 'b', 'c'],
    log: recordingLogger(),
    answer: async ({ image }) => {
      tried.push(image);
      throw new Error('platform said slow down');
    },
    toError: () => new LookalikeError('BUSY', 'mapped', { userMessage: 'The platform is busy, try later.' }),
    replyError: async (text) => void replies.push(text),
  });
  assert.deepEqual(tried, ['a'], 'the mapped code, not the thrown error, decides the stop');
  assert.deepEqual(replies, ['The platform is busy, try later.']);
  assert.deepEqual(result, { answered: 0, failed: ['BUSY'], skipped: 2 });
});

test('GIVEN toError THEN reportFailure posts the mapped sentence and returns the mapped error', async () => {
  const replies: string[] = [];
  const e = await reportFailure(new Error('platform said no'), {
    log: recordingLogger(),
    post: async (text) => void replies.push(text),
    toError: () => new LookalikeError('PLATFORM_ERROR', 'mapped', { userMessage: 'Invite me first.' }),
  });
  assert.equal(e.code, 'PLATFORM_ERROR');
  assert.deepEqual(replies, ['Invite me first.']);
});

test('GIVEN serializeError THEN internal errors are logged in that form', () => {
  const log = recordingLogger();
  logFailure(log, new LookalikeError('INTERNAL', 'x'), 'failed', { serializeError: () => ({ compact: true }) });
  assert.deepEqual(log.entries[0]?.obj.err, { compact: true });
});
