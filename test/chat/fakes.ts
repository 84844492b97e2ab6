/**
 * Fakes for the chat adapters' unit tests: a scripted SimilarityService (no model, no catalog),
 * a logger that records, and a manual clock for the progress throttle.
 */
import type { ThrottleClock } from '@lookalike/chat';
import {
  type Answer,
  type FindSimilarOptions,
  type ImageRef,
  indexingNotice,
  LookalikeError,
  type Notice,
  type ReindexProgress,
  type ReindexRunOptions,
  type ReindexSummary,
  type ServiceStatus,
  type SimilarityService,
  type UserErrorCode,
  untrainedNotice,
} from '@lookalike/core';

export { type LogEntry, type RecordingLogger, recordingLogger } from '../helpers/recording-logger.js';

/** A reindex progress event. */
export function progress(done: number, total = 100, searchable = done): ReindexProgress {
  return {
    phase: 'embedding',
    done,
    total,
    rate: 10,
    etaSeconds: (total - done) / 10,
    startedAt: 0,
    searchable,
    expected: total,
  };
}

export const SUMMARY: ReindexSummary = {
  added: 2,
  updated: 0,
  removed: 1,
  unchanged: 5,
  failed: 0,
  failedFiles: [],
  durationMs: 1400,
  total: 7,
};

/** The notices of an answer during a reindex with untrained weights. */
export const NOTICES_WHILE_INDEXING: Notice[] = [untrainedNotice(), indexingNotice(progress(40, 100))];

/** An answer with `count` results. */
export function fakeAnswer(requestId: string, count = 6, notices: Notice[] = NOTICES_WHILE_INDEXING): Answer {
  const results = Array.from({ length: count }, (_, i) => ({
    rank: i + 1,
    id: `item-${i + 1}`,
    path: `/catalog/item-${i + 1}.jpg`,
    distance: 0.1 * (i + 1),
    similarity: 0.9 - 0.05 * i,
    metadata: { productDisplayName: `Item ${i + 1}`, articleType: 'Shirts', baseColour: 'Blue', gender: 'Men' },
  }));
  return {
    requestId,
    results,
    weights: { source: 'untrained', md5: 'x', untrained: true, description: 'ResNet50 UNTRAINED' },
    noCloseMatch: false,
    notices,
    collage: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    images: async () =>
      results.map((r) => ({
        rank: r.rank,
        filename: `${r.rank}-shirts.jpg`,
        bytes: Buffer.from([0xff, 0xd8, 0xff]),
        contentType: 'image/jpeg',
      })),
  };
}

/** A user-facing service error, as the service throws it. */
export function serviceError(code: UserErrorCode, userMessage?: string): LookalikeError {
  return new LookalikeError(code, `fake ${code}`, userMessage === undefined ? {} : { userMessage });
}

export interface FindSimilarCall {
  image: ImageRef;
  options: FindSimilarOptions;
}

export interface FakeServiceOptions {
  /** What the n-th findSimilar call (0-based) gives: an answer, an error to throw, or undefined for the default answer. */
  answer?: (call: FindSimilarCall, n: number) => Answer | Error | undefined;
  /** The reindex run. @defaultValue resolves with SUMMARY */
  reindex?: (onProgress: (p: ReindexProgress) => void, options: ReindexRunOptions) => Promise<ReindexSummary>;
  facets?: { genders: string[]; articleTypes: string[] };
  status?: Partial<ServiceStatus>;
}

export type FakeService = SimilarityService & {
  calls: FindSimilarCall[];
  reindexCalls: number;
  /** The options of each reindex call, in order. */
  reindexOptions: ReindexRunOptions[];
  /** Calls of answer.images() (attachments beside the collage). */
  imagesCalls: number;
};

export function fakeService(options: FakeServiceOptions = {}): FakeService {
  const calls: FindSimilarCall[] = [];
  const service: FakeService = {
    calls,
    reindexCalls: 0,
    reindexOptions: [],
    imagesCalls: 0,
    async findSimilar(image, opts) {
      const call = { image, options: opts };
      calls.push(call);
      const out = options.answer?.(call, calls.length - 1) ?? fakeAnswer(opts.requestId ?? 'r');
      if (out instanceof Error) throw out;
      const images = out.images;
      return {
        ...out,
        images: () => {
          service.imagesCalls += 1;
          return images();
        },
      };
    },
    async fetchImage() {
      throw new Error('adapters must pass { url } to findSimilar, not call fetchImage');
    },
    async moreLikeThis(itemId, opts) {
      const out = fakeAnswer(opts.requestId ?? 'r');
      return { ...out, excluded: [itemId, ...(opts.exclude ?? [])], sourceItemId: itemId };
    },
    async reindex(onProgress, runOptions = {}) {
      service.reindexCalls += 1;
      service.reindexOptions.push(runOptions);
      return (options.reindex ?? (async () => SUMMARY))(onProgress ?? (() => {}), runOptions);
    },
    status() {
      return {
        catalogSize: 7,
        weights: { source: 'untrained', md5: 'x', untrained: true, description: 'ResNet50 UNTRAINED' },
        runtime: 'onnx',
        reindexing: false,
        reindexProgress: null,
        queueDepth: 0,
        inFlight: 0,
        uptimeSeconds: 1,
        ...options.status,
      };
    },
    facets() {
      return options.facets ?? { genders: ['Men', 'Women'], articleTypes: ['Shirts', 'Tshirts', 'Casual Shoes'] };
    },
    async close() {},
  };
  return service;
}

/** The catalog's refusal of a run that would remove `wouldRemove` of `total` items. */
export function massRemovalRefusal(wouldRemove: number, total: number): LookalikeError {
  return new LookalikeError('REINDEX_MASS_REMOVAL', `would remove ${wouldRemove} of ${total}`, {
    details: { wouldRemove, total, imagesDir: '/catalog/images', folderMissing: false },
    userMessage: `This reindex would remove ${wouldRemove} of the ${total} items in the catalog. Nothing was changed.`,
  });
}

/** A clock that only moves when told to; due timers fire on `advance`. */
export function manualClock(start = 0): ThrottleClock & { advance(ms: number): void; pending(): number } {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}

/** Lets pending promise callbacks run (no timers involved). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
