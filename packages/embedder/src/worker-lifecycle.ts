/**
 * The life of the embedder's worker threads, seen from the main thread: one decode worker and
 * `workers` inference workers are spawned, each inference worker is wired to the decode worker
 * by its own MessageChannel (again after either side restarts), a worker that dies is restarted,
 * failed starts are retried with backoff until three in a row leave the set broken, and `stop`
 * asks every worker to exit (terminating one that does not in time). Workers keep the process
 * alive only while the pool says it is busy.
 *
 * What the workers compute is none of its business: messages other than `ready` and
 * `init-failed` go to the pool, which also decides what happens to the images a dead worker held.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { type Logger, LookalikeError } from '@lookalike/core';
import {
  type CrashMode,
  type DecodeWorkerData,
  type FromDecoder,
  type FromInference,
  fromWire,
  type InferenceWorkerData,
  type ToDecoder,
  type ToInference,
  type WireError,
} from './protocol.js';
import type { WorkerName } from './worker-spawn.js';

/** Starts one worker thread of the given entry with `workerData` (worker-spawn.ts in production). */
export type SpawnWorker = (name: WorkerName, workerData: unknown) => Worker;

export interface WorkerSlot {
  readonly kind: WorkerName;
  readonly index: number;
  readonly worker: Worker;
  readonly exited: Promise<number>;
  ready: boolean;
  /** Became ready once (a worker that dies before that failed to start). */
  started: boolean;
  /** Inference workers: wired to the current decode worker. */
  wired: boolean;
  /** Being stopped, or exiting by itself after a failed start: its exit is not a crash. */
  closing: boolean;
  lastError?: Error;
}

export interface LifecycleEvents {
  /** A message from a worker other than `ready` / `init-failed`. */
  message(slot: WorkerSlot, m: FromDecoder | FromInference): void;
  /** A worker became ready (at start or after a restart): work can flow to it. */
  ready(slot: WorkerSlot): void;
  /**
   * A worker that was running died (it is restarted right after). The pool rejects the images
   * it held with `error` and returns how many.
   */
  died(slot: WorkerSlot, error: LookalikeError): number;
  /** Workers failed to start MAX_FAILED_STARTS times in a row: nothing is restarted any more. */
  broken(error: LookalikeError): void;
}

export interface LifecycleConfig {
  decode: DecodeWorkerData;
  inference: InferenceWorkerData;
  /** Inference workers. */
  workers: number;
  /** How long a worker may take to exit after `close` before it is terminated. */
  closeTimeoutMs: number;
  spawn: SpawnWorker;
}

export const MAX_FAILED_STARTS = 3;

/** Resolves true if `p` settles within `ms`, false otherwise (the timer never outlives the race). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

export class WorkerLifecycle {
  readonly #config: LifecycleConfig;
  readonly #logger: Logger;
  readonly #events: LifecycleEvents;
  #decoder: WorkerSlot | undefined;
  readonly #inference: (WorkerSlot | undefined)[];
  #failedStarts = 0;
  #restarts = 0;
  #broken = false;
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  #detail = '';
  /** Settles the first start: resolved when every worker is ready, rejected on the first failure. */
  #startup: { resolve: () => void; reject: (e: LookalikeError) => void; pending: number } | undefined;

  constructor(config: LifecycleConfig, logger: Logger, events: LifecycleEvents) {
    this.#config = config;
    this.#logger = logger;
    this.#events = events;
    this.#inference = Array.from({ length: config.workers }, () => undefined);
  }

  /** Runtime detail reported by the first inference worker. */
  get detail(): string {
    return this.#detail;
  }

  /** Workers restarted after they died. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The decode worker, when it is ready to take images. */
  get decoder(): Worker | undefined {
    return this.#decoder?.ready === true && !this.#stopped ? this.#decoder.worker : undefined;
  }

  /** Indexes of the inference workers that are ready and wired to the decode worker. */
  targets(): number[] {
    return this.#inference.filter((s): s is WorkerSlot => s?.ready === true && s.wired).map((s) => s.index);
  }

  /** Starts every worker; rejects (after terminating them) with the first worker's start error. */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => {
      this.#startup = { resolve, reject, pending: 1 + this.#config.workers };
    });
    this.#spawn('decode-worker', 0);
    for (let i = 0; i < this.#config.workers; i++) this.#spawn('inference-worker', i);
    try {
      await started;
    } catch (err) {
      await this.stop(true);
      throw err;
    } finally {
      this.#startup = undefined;
    }
  }

  /**
   * Stops every worker: asks each to exit and waits (terminating one that has not exited after
   * the close timeout), or terminates them at once when `force`. Nothing is restarted after.
   */
  async stop(force: boolean): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#slots().map((s) => this.#stopSlot(s, force)));
  }

  /** Test hook: makes a worker die. */
  crash(kind: 'decode' | 'inference', mode: CrashMode, index = 0): void {
    const slot = kind === 'decode' ? this.#decoder : this.#inference[index];
    slot?.worker.postMessage({ type: 'crash', mode } satisfies ToDecoder & ToInference);
  }

  /** Workers keep the process alive only while `busy` (and always while starting or stopping). */
  refs(busy: boolean): void {
    const hold = busy || this.#startup !== undefined;
    for (const s of this.#slots()) {
      if (hold || s.closing) s.worker.ref();
      else s.worker.unref();
    }
  }

  #slots(): WorkerSlot[] {
    return [this.#decoder, ...this.#inference].filter((s): s is WorkerSlot => s !== undefined);
  }

  async #stopSlot(slot: WorkerSlot, force: boolean): Promise<void> {
    slot.closing = true;
    slot.worker.ref();
    if (!force) {
      slot.worker.postMessage({ type: 'close' } satisfies ToDecoder & ToInference);
      if (await settlesWithin(slot.exited, this.#config.closeTimeoutMs)) return;
      this.#logger.warn(
        { worker: slot.kind, index: slot.index },
        'embedder worker did not exit after close; terminating it',
      );
    }
    await slot.worker.terminate();
  }

  #spawn(kind: WorkerName, index: number): void {
    const data = kind === 'decode-worker' ? this.#config.decode : this.#config.inference;
    const worker = this.#config.spawn(kind, data);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const slot: WorkerSlot = {
      kind,
      index,
      worker,
      exited,
      ready: false,
      started: false,
      wired: false,
      closing: false,
    };
    if (kind === 'decode-worker') this.#decoder = slot;
    else this.#inference[index] = slot;
    worker.on('error', (err) => {
      slot.lastError = err;
    });
    worker.on('message', (m: FromDecoder | FromInference) => {
      if (m.type === 'ready') this.#onReady(slot, 'detail' in m ? m.detail : undefined);
      else if (m.type === 'init-failed') this.#onStartFailed(slot, m.error);
      else this.#events.message(slot, m);
    });
    void exited.then((code) => this.#onExit(slot, code));
  }

  #onReady(slot: WorkerSlot, detail: string | undefined): void {
    slot.ready = true;
    slot.started = true;
    this.#failedStarts = 0;
    if (detail !== undefined && this.#detail === '') this.#detail = detail;
    if (slot.kind === 'decode-worker') {
      for (const s of this.#inference) if (s !== undefined) s.wired = false;
    }
    this.#wire();
    if (this.#startup !== undefined && --this.#startup.pending === 0) this.#startup.resolve();
    this.#events.ready(slot);
  }

  /** Gives each ready, unwired inference worker a channel to the ready decode worker. */
  #wire(): void {
    const decoder = this.#decoder;
    if (decoder === undefined || !decoder.ready) return;
    for (const s of this.#inference) {
      if (s === undefined || !s.ready || s.wired) continue;
      const { port1, port2 } = new MessageChannel();
      decoder.worker.postMessage({ type: 'route', target: s.index, port: port1 } satisfies ToDecoder, [port1]);
      s.worker.postMessage({ type: 'decoder', port: port2 } satisfies ToInference, [port2]);
      s.wired = true;
    }
  }

  #onStartFailed(slot: WorkerSlot, error: WireError): void {
    slot.closing = true; // it exits by itself; not a crash
    const err = fromWire(error, slot.kind);
    if (this.#startup !== undefined) {
      this.#startup.reject(err);
      return;
    }
    this.#logger.error({ err, worker: slot.kind, index: slot.index }, 'embedder worker failed to start');
    this.#retryOrBreak(slot, err);
  }

  #onExit(slot: WorkerSlot, code: number): void {
    const current = slot.kind === 'decode-worker' ? this.#decoder : this.#inference[slot.index];
    if (current !== slot) return;
    slot.ready = false;
    slot.wired = false;
    if (this.#stopped) return;
    if (this.#startup !== undefined) {
      this.#startup.reject(
        new LookalikeError('INTERNAL', `embedder ${slot.kind} exited during start (exit code ${code})`, {
          cause: slot.lastError,
          details: { worker: slot.kind, exitCode: code },
        }),
      );
      return;
    }
    if (slot.closing) return; // a failed start, already handled
    if (!slot.started) {
      this.#logger.error(
        { err: slot.lastError, worker: slot.kind, exitCode: code },
        'embedder worker died while starting',
      );
      this.#retryOrBreak(
        slot,
        new LookalikeError('INTERNAL', `embedder ${slot.kind} exited while starting (exit code ${code})`, {
          cause: slot.lastError,
        }),
      );
      return;
    }
    const error = new LookalikeError(
      'INTERNAL',
      `the embedder's ${slot.kind} stopped unexpectedly (exit code ${code}); the image was not embedded`,
      { cause: slot.lastError, details: { worker: slot.kind, index: slot.index, exitCode: code } },
    );
    this.#restarts++;
    const rejected = this.#events.died(slot, error);
    this.#logger.error(
      { err: slot.lastError, worker: slot.kind, index: slot.index, exitCode: code, rejected },
      'embedder worker died; restarting it',
    );
    this.#spawn(slot.kind, slot.index);
  }

  #retryOrBreak(slot: WorkerSlot, err: LookalikeError): void {
    if (this.#broken) return;
    this.#failedStarts++;
    if (this.#failedStarts >= MAX_FAILED_STARTS) {
      this.#broken = true;
      const broken = new LookalikeError('INTERNAL', `the embedder's workers cannot start: ${err.message}`, {
        cause: err,
        details: { worker: slot.kind, failedStarts: this.#failedStarts },
      });
      this.#logger.error({ err: broken }, 'embedder is broken: its workers fail to start');
      this.#events.broken(broken);
      return;
    }
    const delay = Math.min(250 * 2 ** (this.#failedStarts - 1), 5_000);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) this.#spawn(slot.kind, slot.index);
    }, delay);
    // Waiting images hold the process through the other workers; an idle process may exit.
    timer.unref();
    this.#timers.add(timer);
  }
}
