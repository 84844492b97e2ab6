/**
 * The embedder seen from the main thread: the book of images (requests.ts), their dispatch to
 * the worker threads (worker-lifecycle.ts starts, wires, restarts and stops those) and the
 * messages that come back.
 *
 * Images go to the decode worker interactive first, at most `maxInFlight` per class at a time
 * (the rest wait here as the caller's bytes, so memory stays bounded), each to the least loaded
 * inference worker. Bytes are copied once into a fresh buffer that is transferred: the caller's
 * buffer is never detached. Vectors come back on transferred buffers.
 *
 * A worker that dies rejects the images it held with INTERNAL and is restarted; images still
 * waiting here go to the new worker. Three failed starts in a row leave the embedder broken:
 * everything waiting, and every later call, rejects with INTERNAL.
 */
import { type EmbedPriority, type ImageInput, type Logger, LookalikeError } from '@lookalike/core';
import { tooManyBytes } from './decode.js';
import type { ResolvedPreprocessOptions } from './preprocess-options.js';
import {
  type CrashMode,
  type DecodeWorkerData,
  type FromDecoder,
  type FromInference,
  fromWire,
  type InferenceWorkerData,
  type LogMessage,
  type ToDecoder,
} from './protocol.js';
import { type Call, RequestTable } from './requests.js';
import { type SpawnWorker, settlesWithin, WorkerLifecycle, type WorkerSlot } from './worker-lifecycle.js';
import { spawnWorker } from './worker-spawn.js';

export interface PoolConfig {
  decode: DecodeWorkerData;
  inference: InferenceWorkerData;
  /** Inference workers. */
  workers: number;
  /** Images per class handed to the workers at once. */
  maxInFlight: number;
  preprocessing: ResolvedPreprocessOptions;
  /**
   * How long `close` waits for outstanding images, and then for each worker to exit, before
   * rejecting / terminating (default 10 s).
   */
  closeTimeoutMs?: number;
  /** Starts a worker thread (default: the decode / inference worker next to this module). */
  spawn?: SpawnWorker;
}

/** Queue depth and counters since load. */
export interface EmbedderStats {
  /** Images waiting per class: on the main thread, decoding, or decoded and waiting for the model. */
  queued: Readonly<Record<EmbedPriority, number>>;
  /** Images in the batches on the model right now (all inference workers). */
  running: number;
  /** Batches run since load. */
  batches: number;
  /** Images embedded since load. */
  images: number;
  /** Largest batch run so far. */
  maxBatch: number;
  /** Workers restarted after they died. */
  restarts: number;
}

const CLOSE_TIMEOUT_MS = 10_000;

export class EmbedderPool {
  readonly #config: PoolConfig;
  readonly #logger: Logger;
  readonly #table = new RequestTable();
  readonly #workers: WorkerLifecycle;
  readonly #closeTimeoutMs: number;
  readonly #counters = { batches: 0, images: 0, maxBatch: 0 };
  #broken: LookalikeError | undefined;
  #closing: Promise<void> | undefined;

  constructor(config: PoolConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#closeTimeoutMs = config.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
    this.#workers = new WorkerLifecycle(
      {
        decode: config.decode,
        inference: config.inference,
        workers: config.workers,
        closeTimeoutMs: this.#closeTimeoutMs,
        spawn: config.spawn ?? spawnWorker,
      },
      logger,
      {
        message: (slot, m) => this.#onMessage(slot, m),
        ready: () => this.#pump(),
        died: (slot, error) => this.#onDied(slot, error),
        broken: (error) => this.#onBroken(error),
      },
    );
  }

  /** Runtime detail reported by the first inference worker. */
  get detail(): string {
    return this.#workers.detail;
  }

  get stats(): EmbedderStats {
    return { ...this.#table.depth(), ...this.#counters, restarts: this.#workers.restarts };
  }

  /** Starts every worker; rejects (after stopping them) with the first worker's start error. */
  async start(): Promise<void> {
    // sharp must be loaded by the main thread before workers use it (glibc: its shared
    // libraries must stay loaded until every thread is done).
    await import('sharp');
    await this.#workers.start();
    this.#refs();
  }

  embed(inputs: readonly ImageInput[], priority: EmbedPriority): Promise<Float32Array[]> {
    if (this.#closing !== undefined) return Promise.reject(new LookalikeError('INTERNAL', 'embedder is disposed'));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const call: Call = { failed: false };
    const { maxBytes } = this.#config.preprocessing;
    const promises = inputs.map((input) => {
      if (typeof input !== 'string' && input.byteLength > maxBytes) {
        call.failed = true;
        return Promise.reject(tooManyBytes(input.byteLength, this.#config.preprocessing));
      }
      return this.#table.add(input, priority, call);
    });
    // The call rejects with its first failure; the others must not become unhandled.
    for (const p of promises) p.catch(() => {});
    this.#pump();
    return Promise.all(promises);
  }

  /** Test hook: makes a worker die. */
  crash(kind: 'decode' | 'inference', mode: CrashMode, index = 0): void {
    this.#workers.crash(kind, mode, index);
  }

  /**
   * Waits for outstanding images (at most the close timeout: what is left then rejects with
   * INTERNAL and the workers are terminated), then stops every worker.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = this.#close();
      this.#refs();
    }
    return this.#closing;
  }

  async #close(): Promise<void> {
    const drained = await settlesWithin(this.#table.idle(), this.#closeTimeoutMs);
    if (!drained) {
      const outstanding = this.#table.size;
      this.#logger.warn(
        { outstanding, timeoutMs: this.#closeTimeoutMs },
        'embedder dispose timed out with images outstanding; rejecting them and terminating the workers',
      );
      const error = new LookalikeError(
        'INTERNAL',
        `the embedder was disposed while ${outstanding} image(s) were still outstanding after ${this.#closeTimeoutMs} ms; they were not embedded`,
        { details: { outstanding, timeoutMs: this.#closeTimeoutMs } },
      );
      for (const r of this.#table.filter(() => true)) this.#table.reject(r.id, error);
    }
    await this.#workers.stop(!drained);
  }

  #onMessage(slot: WorkerSlot, m: FromDecoder | FromInference): void {
    switch (m.type) {
      case 'decoded':
        this.#table.markDecoded(m.id);
        break;
      case 'started':
        this.#table.markRunning(m.ids);
        break;
      case 'done': {
        const n = m.ids.length;
        this.#counters.batches++;
        this.#counters.images += n;
        this.#counters.maxBatch = Math.max(this.#counters.maxBatch, n);
        for (const [i, id] of m.ids.entries()) this.#table.resolve(id, m.vectors[i] as Float32Array);
        this.#pump();
        break;
      }
      case 'failed': {
        const error = fromWire(m.error, slot.kind === 'decode-worker' ? 'decode worker' : 'inference worker');
        for (const id of 'ids' in m ? m.ids : [m.id]) this.#table.reject(id, error);
        this.#pump();
        break;
      }
      case 'log':
        this.#log(slot, m);
        break;
    }
  }

  #log(slot: WorkerSlot, m: LogMessage): void {
    this.#logger[m.level]({ ...m.obj, worker: slot.kind, index: slot.index }, m.msg);
  }

  /** Rejects the images the dead worker held; the rest wait for its replacement. */
  #onDied(slot: WorkerSlot, error: LookalikeError): number {
    const lost = this.#table.filter((r) =>
      slot.kind === 'decode-worker' ? r.stage === 'decoding' : r.stage !== 'queued' && r.target === slot.index,
    );
    for (const r of lost) this.#table.reject(r.id, error);
    this.#pump();
    return lost.length;
  }

  #onBroken(error: LookalikeError): void {
    this.#broken = error;
    for (const r of this.#table.filter(() => true)) this.#table.reject(r.id, error);
    this.#refs();
  }

  /**
   * Hands waiting images to the workers, interactive first, within the per-class cap (called
   * after anything changes), then lets the process exit if nothing is left.
   */
  #pump(): void {
    const decoder = this.#workers.decoder;
    const targets = this.#workers.targets();
    if (decoder !== undefined && targets.length > 0) {
      const cap = this.#config.maxInFlight;
      for (;;) {
        const r = this.#table.nextQueued((p) => this.#table.dispatched(p) < cap);
        if (r === undefined) break;
        if (r.call.failed) {
          this.#table.reject(r.id, new LookalikeError('INTERNAL', 'skipped: another image of this call failed'));
          continue;
        }
        const target = this.#leastLoaded(targets);
        this.#table.markDispatched(r, target);
        // One copy of exactly the caller's bytes, transferred (never the caller's own buffer).
        const input = typeof r.input === 'string' ? r.input : new Uint8Array(r.input);
        const message: ToDecoder = { type: 'decode', id: r.id, priority: r.priority, target, input };
        decoder.postMessage(message, typeof input === 'string' ? [] : [input.buffer as ArrayBuffer]);
      }
    }
    this.#refs();
  }

  #leastLoaded(targets: readonly number[]): number {
    let best = targets[0] as number;
    for (const t of targets) if (this.#table.load(t) < this.#table.load(best)) best = t;
    return best;
  }

  /** Workers keep the process alive only while images are outstanding (or during close). */
  #refs(): void {
    this.#workers.refs(this.#table.size > 0 || this.#closing !== undefined);
  }
}
