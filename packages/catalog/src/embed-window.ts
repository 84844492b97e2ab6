/**
 * Embedding the files of a reindex: each file is read and hashed (async, off the main thread)
 * and sent to the embedder as its own `embed([bytes], { priority: 'batch' })` call, with a
 * bounded window of calls in flight (the embedder coalesces them into batches). A bad file
 * rejects only its own call. Finished files are handed over in groups of `batchSize`, each
 * committed as one transaction.
 */
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Embedder } from '@lookalike/core';
import { failureOf, isSkippable } from './failures.js';
import type { EmbedJob } from './plan.js';

export type EmbedOutcome =
  | { ok: true; job: EmbedJob; sha256: string; vector: Float32Array }
  | { ok: false; job: EmbedJob; code: string; message: string };

export interface EmbedWindowOptions {
  embedder: Embedder;
  /** Calls in flight at most. */
  window: number;
  /** Outcomes per `commit` call (the last group may be smaller). */
  batchSize: number;
  /** Checked before each new call: true stops launching (the calls in flight finish and are committed). */
  shouldStop: () => boolean;
  /** Called once the bytes of a file were read and it is sent to the embedder. */
  onSent?: () => void;
}

/** SHA-256 (hex) of some bytes, computed on the libuv thread pool. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', bytes);
  return Buffer.from(digest).toString('hex');
}

async function embedOne(job: EmbedJob, o: EmbedWindowOptions): Promise<EmbedOutcome> {
  try {
    const bytes = await readFile(job.file.absPath);
    // Hashed before the embed call: the embedder may transfer (detach) the buffer.
    const sha256 = await sha256Hex(bytes);
    o.onSent?.();
    const [vector] = await o.embedder.embed([bytes], { priority: 'batch' });
    if (vector === undefined) throw new Error('embedder returned no vector');
    return { ok: true, job, sha256, vector };
  } catch (err) {
    if (!isSkippable(err)) throw err;
    return { ok: false, job, ...failureOf(err) };
  }
}

/**
 * Embeds `jobs` and passes the outcomes to `commit` in groups. Resolves with `stopped` = true
 * when `shouldStop` ended it early. A non-skippable error (embedder disposed, a commit that
 * failed) stops launching, lets the calls in flight finish (their outcomes are committed unless
 * a commit failed), then rejects with the first such error.
 */
export function embedInWindow(
  jobs: readonly EmbedJob[],
  o: EmbedWindowOptions,
  commit: (outcomes: EmbedOutcome[]) => void,
): Promise<{ stopped: boolean }> {
  const window = Math.max(1, o.window);
  const batchSize = Math.max(1, o.batchSize);
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let fatal: { err: unknown } | undefined;
    let commitFailed = false;
    let settled = false;
    const ready: EmbedOutcome[] = [];

    const flush = (all: boolean): void => {
      while (!commitFailed && (ready.length >= batchSize || (all && ready.length > 0))) {
        try {
          commit(ready.splice(0, batchSize));
        } catch (err) {
          commitFailed = true;
          fatal ??= { err };
        }
      }
    };

    const pump = (): void => {
      if (settled) return;
      flush(false);
      let stopped = false;
      while (fatal === undefined && inFlight < window && next < jobs.length) {
        if (o.shouldStop()) {
          stopped = true;
          break;
        }
        launch(jobs[next++]!);
      }
      if (inFlight > 0) return;
      flush(true);
      settled = true;
      if (fatal !== undefined) reject(fatal.err);
      else resolve({ stopped: stopped || next < jobs.length });
    };

    const launch = (job: EmbedJob): void => {
      inFlight++;
      embedOne(job, o)
        .then(
          (outcome) => {
            ready.push(outcome);
          },
          (err: unknown) => {
            fatal ??= { err };
          },
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    };

    pump();
  });
}
