/**
 * The messages between the main thread, the decode worker and the inference workers, and how a
 * LookalikeError crosses a thread boundary (structured clone keeps only plain data, so code,
 * message, details and the user sentence are sent and a LookalikeError is rebuilt).
 */
import type { MessagePort } from 'node:worker_threads';
import { type EmbedPriority, type ErrorCode, LookalikeError } from '@lookalike/core';
import { cloneableRecord } from './plain-data.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';
import type { RuntimeName } from './runtime.js';
import type { Manifest, Precision } from './weights/manifest.js';

/** A LookalikeError as plain, cloneable data. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  userMessage: string;
  /** Where it was thrown, for logs. */
  stack?: string;
}

/** The message of anything thrown, never throwing itself. */
export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

/** Anything thrown → WireError (non-LookalikeErrors become INTERNAL). Never throws. */
export function toWire(err: unknown): WireError {
  const e = err instanceof LookalikeError ? err : new LookalikeError('INTERNAL', errorMessage(err), { cause: err });
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : undefined;
  return {
    code: e.code,
    message: String(e.message),
    details: cloneableRecord(e.details, 'the error details could not be sent across threads'),
    userMessage: e.userMessage,
    ...(stack === undefined ? {} : { stack }),
  };
}

/** WireError → a LookalikeError with the same code, message, details and user sentence. */
export function fromWire(w: WireError, thread: string): LookalikeError {
  const cause = new Error(w.message);
  cause.name = `LookalikeError (${thread})`;
  if (w.stack !== undefined) cause.stack = w.stack;
  return new LookalikeError(w.code, w.message, { details: w.details, userMessage: w.userMessage, cause });
}

/** One line of a worker's log, forwarded to the embedder's logger on the main thread. */
export interface LogMessage {
  type: 'log';
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  obj: Record<string, unknown>;
  msg: string;
}

/** How a test makes a worker die: exit at once, or throw an uncaught error. */
export type CrashMode = 'exit' | 'throw';

// --- main → decode worker ---
export interface DecodeWorkerData {
  preprocessing: ResolvedPreprocessOptions;
  /** Images decoded at once. */
  concurrency: number;
}
export type ToDecoder =
  | { type: 'decode'; id: number; priority: EmbedPriority; target: number; input: Uint8Array | string }
  /** The port to inference worker `target` (a new one replaces the old after a restart). */
  | { type: 'route'; target: number; port: MessagePort }
  | { type: 'close' }
  | { type: 'crash'; mode: CrashMode };

// --- decode worker → main ---
export type FromDecoder =
  | { type: 'ready' }
  /** The tensor of `id` went to its inference worker. */
  | { type: 'decoded'; id: number }
  | { type: 'failed'; id: number; error: WireError }
  | LogMessage;

// --- decode worker → inference worker (over a MessageChannel) ---
export interface TensorMessage {
  type: 'tensor';
  id: number;
  priority: EmbedPriority;
  /** 224·224·3 floats, caffe NHWC; its buffer is transferred. */
  tensor: Float32Array;
}

// --- main → inference worker ---
export interface InferenceWorkerData {
  modelsDir: string;
  manifest: Manifest;
  runtime: RuntimeName;
  /** Which ONNX model file: the fp32 one or the int8 QDQ one (onnx runtime only). @defaultValue 'fp32' */
  precision?: Precision;
  /** ORT intra-op threads of this worker. */
  threads: number;
  spinning: boolean;
  warmup: boolean;
  /** Largest interactive batch. */
  batchSize: number;
  /** Largest batch of 'batch' work (bounds how long an interactive request waits). */
  batchSliceSize: number;
}
export type ToInference =
  | { type: 'decoder'; port: MessagePort }
  | { type: 'close' }
  | { type: 'crash'; mode: CrashMode };

// --- inference worker → main ---
export type FromInference =
  | { type: 'ready'; detail: string }
  | { type: 'init-failed'; error: WireError }
  | { type: 'started'; ids: number[] }
  /** One vector per id, each on its own transferred buffer. */
  | { type: 'done'; ids: number[]; vectors: Float32Array[] }
  | { type: 'failed'; ids: number[]; error: WireError }
  | LogMessage;
