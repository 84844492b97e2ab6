/**
 * Test helpers for feedback: a pass-through around the real recorder that lets a test wait for
 * what the bot recorded (no sleeps), and the bytes of a SQLite database with its WAL.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AnsweredInput, FeedbackInput, FeedbackRecorder } from '@lookalike/core';

export interface WatchedRecorder {
  /** Hand this to the bot: it delegates every call to the real recorder. */
  recorder: FeedbackRecorder;
  answers: AnsweredInput[];
  records: { input: FeedbackInput; stored: boolean }[];
  /** Resolves once `count` answers were recorded (past or future). */
  waitForAnswers(count: number, timeoutMs?: number): Promise<AnsweredInput[]>;
  /** Resolves once `count` record() calls have finished (stored or not). */
  waitForRecords(count: number, timeoutMs?: number): Promise<{ input: FeedbackInput; stored: boolean }[]>;
}

export function watchRecorder(inner: FeedbackRecorder): WatchedRecorder {
  const answers: AnsweredInput[] = [];
  const records: { input: FeedbackInput; stored: boolean }[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const hit = check();
        if (hit === undefined) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  return {
    answers,
    records,
    recorder: {
      get enabled() {
        return inner.enabled;
      },
      async answered(a) {
        await inner.answered(a);
        answers.push(a);
        wake();
      },
      async record(input) {
        const stored = await inner.record(input);
        records.push({ input, stored });
        wake();
        return stored;
      },
    },
    waitForAnswers: (count, timeoutMs = 60_000) =>
      waitUntil(() => (answers.length >= count ? answers.slice(0, count) : undefined), timeoutMs, `${count} answers`),
    waitForRecords: (count, timeoutMs = 30_000) =>
      waitUntil(() => (records.length >= count ? records.slice(0, count) : undefined), timeoutMs, `${count} records`),
  };
}

/** The database file and its WAL, as one buffer: everything SQLite wrote. */
export async function databaseBytes(path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) parts.push(await readFile(p));
  return Buffer.concat(parts);
}
