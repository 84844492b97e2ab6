/**
 * The per-message image loop both adapters run: a cap on the images of one message, one answer
 * per image in order, and no more tries once the service says "slow down" or "busy".
 */
import type { ErrorCode, Logger, LookalikeError } from '@lookalike/core';
import { type LogFailureOptions, reportFailure } from './failures.js';
import { newRequestId } from './request-id.js';

/** Up to this many images of one message get an answer each. */
export const MAX_IMAGES_PER_MESSAGE = 4;

/** After an answer with one of these codes, the other images of the message would only repeat it. */
export const STOP_CODES: readonly ErrorCode[] = Object.freeze(['RATE_LIMITED', 'BUSY']);

/** True when the rest of a message's images are skipped after an error with this code. */
export function stopsTheMessage(code: ErrorCode): boolean {
  return STOP_CODES.includes(code);
}

/** One image of a message, with the request id and logger of its answer. */
export interface ImageJob<T> {
  image: T;
  /** Position among the message's images (0-based). */
  index: number;
  requestId: string;
  /** The loop's logger with `requestId` bound. */
  log: Logger;
}

export interface AnswerImagesOptions<T> extends LogFailureOptions {
  images: readonly T[];
  log: Logger;
  /** Answers one image (service call, rendering, reply). Throws when the answer is an error. */
  answer(job: ImageJob<T>): Promise<void>;
  /** Posts the error sentence for one image; a rejection is logged, not thrown. */
  replyError(text: string, job: ImageJob<T>): Promise<unknown>;
  /** Checked before each image: true stops the loop (the adapter is shutting down). */
  cancelled?: () => boolean;
  /** @defaultValue MAX_IMAGES_PER_MESSAGE */
  max?: number;
  /** The request id of the image at `index`. @defaultValue a new short id each */
  requestId?: (index: number) => string;
  /** @defaultValue asLookalikeError */
  toError?: (err: unknown) => LookalikeError;
  /** Log message of a failed image. @defaultValue 'image answer failed' */
  message?: string;
}

export interface AnswerImagesResult {
  /** Images answered with results. */
  answered: number;
  /** Codes of the images answered with an error sentence, in order. */
  failed: ErrorCode[];
  /** Images never tried: over the cap, after a stop code, or after cancellation. */
  skipped: number;
}

/**
 * Answers the first `max` images one after the other. A failed image gets its error sentence
 * (logged at info for user-facing codes, error for internal ones); after RATE_LIMITED or BUSY the
 * remaining images are skipped, so the person reads "slow down" once.
 */
export async function answerImages<T>(options: AnswerImagesOptions<T>): Promise<AnswerImagesResult> {
  const batch = options.images.slice(0, options.max ?? MAX_IMAGES_PER_MESSAGE);
  const failed: ErrorCode[] = [];
  let answered = 0;
  let tried = 0;
  for (const [index, image] of batch.entries()) {
    if (options.cancelled?.() === true) break;
    tried += 1;
    const requestId = options.requestId?.(index) ?? newRequestId();
    const job: ImageJob<T> = { image, index, requestId, log: options.log.child({ requestId }) };
    try {
      await options.answer(job);
      answered += 1;
    } catch (err) {
      const e = await reportFailure(err, {
        log: job.log,
        post: (text) => options.replyError(text, job),
        message: options.message ?? 'image answer failed',
        ...(options.toError === undefined ? {} : { toError: options.toError }),
        ...(options.serializeError === undefined ? {} : { serializeError: options.serializeError }),
      });
      failed.push(e.code);
      if (stopsTheMessage(e.code)) break;
    }
  }
  return { answered, failed, skipped: options.images.length - tried };
}
