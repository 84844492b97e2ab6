/**
 * The main-thread side of the index worker: request/reply over postMessage, failures turned back
 * into LookalikeErrors. A worker is referenced (keeps the process alive) only while a request is
 * pending, so an idle worker never holds up exit.
 */
import { Worker } from 'node:worker_threads';
import { type ErrorCode, LookalikeError } from '@lookalike/core';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * worker.js from dist; worker.ts under tsx (source runs, tests, benches). Node 20 does not apply
 * the parent's `--import` loader hooks to a worker's own module graph, so a source worker
 * registers tsx itself first (tsx is a dev dependency: only the source path needs it).
 */
function spawn(name: string): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { name });
  const entry = new URL('./worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, name });
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
type Request = WorkerRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

export class WorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #dead: LookalikeError | undefined;

  constructor(name: string) {
    this.#worker = spawn(name);
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#fail(`index worker failed: ${err.message}`, err));
    this.#worker.on('exit', (code) => this.#fail(`index worker exited (code ${code})`));
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  call<T>(request: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const seq = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ ...request, seq }, transfer);
    });
  }

  /** Stops the worker; pending calls reject with INTERNAL. */
  async terminate(): Promise<void> {
    if (!this.#dead) this.#dead = new LookalikeError('INTERNAL', 'index worker stopped');
    await this.#worker.terminate();
  }

  #settle(reply: WorkerReply): void {
    const p = this.#pending.get(reply.seq);
    if (!p) return;
    this.#pending.delete(reply.seq);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) p.resolve(reply.result);
    else
      p.reject(
        new LookalikeError(reply.error.code as ErrorCode, reply.error.message, { details: reply.error.details }),
      );
  }

  #fail(message: string, cause?: unknown): void {
    const err = this.#dead ?? new LookalikeError('INTERNAL', message, cause === undefined ? {} : { cause });
    this.#dead = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

let shared: WorkerClient | undefined;

/** The worker that saves and loads files for every index of this thread (started on first use). */
export function ioWorker(): WorkerClient {
  if (!shared?.alive) shared = new WorkerClient('lookalike-index-io');
  return shared;
}
