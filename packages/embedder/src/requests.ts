/**
 * The main thread's book of images to embed: one entry per image, in two FIFO classes, with
 * where each one is (waiting here, decoding, decoded and waiting for the model, on the model)
 * and which inference worker it went to. Pure bookkeeping; the pool moves them.
 */
import type { EmbedPriority, ImageInput, LookalikeError } from '@lookalike/core';
import { Fifo } from './fifo.js';

export type Stage = 'queued' | 'decoding' | 'decoded' | 'running';

/** The images of one `embed()` call: after one fails, its siblings still waiting are skipped. */
export interface Call {
  failed: boolean;
}

export interface EmbedRequest {
  readonly id: number;
  readonly priority: EmbedPriority;
  readonly input: ImageInput;
  readonly call: Call;
  stage: Stage;
  /** Inference worker index, once dispatched. */
  target: number;
  settled: boolean;
  resolve(vector: Float32Array): void;
  reject(error: LookalikeError): void;
}

const PRIORITIES = ['interactive', 'batch'] as const;

export class RequestTable {
  #nextId = 1;
  readonly #byId = new Map<number, EmbedRequest>();
  readonly #queued: Record<EmbedPriority, Fifo<EmbedRequest>> = { interactive: new Fifo(), batch: new Fifo() };
  /** Not settled, per class. */
  readonly #open: Record<EmbedPriority, number> = { interactive: 0, batch: 0 };
  /** Handed to the workers and not settled, per class. */
  readonly #dispatched: Record<EmbedPriority, number> = { interactive: 0, batch: 0 };
  readonly #perTarget = new Map<number, number>();
  readonly #running: Record<EmbedPriority, number> = { interactive: 0, batch: 0 };
  #idleWaiters: (() => void)[] = [];

  /** Images not settled yet. */
  get size(): number {
    return this.#byId.size;
  }

  /** Waiting images per class (anywhere but on the model) and images on the model now. */
  depth(): { queued: Record<EmbedPriority, number>; running: number } {
    return {
      queued: {
        interactive: this.#open.interactive - this.#running.interactive,
        batch: this.#open.batch - this.#running.batch,
      },
      running: this.#running.interactive + this.#running.batch,
    };
  }

  add(input: ImageInput, priority: EmbedPriority, call: Call): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      const r: EmbedRequest = {
        id: this.#nextId++,
        priority,
        input,
        call,
        stage: 'queued',
        target: -1,
        settled: false,
        resolve,
        reject,
      };
      this.#byId.set(r.id, r);
      this.#open[priority]++;
      this.#queued[priority].push(r);
    });
  }

  get(id: number): EmbedRequest | undefined {
    return this.#byId.get(id);
  }

  /** Images of `priority` handed to the workers and not settled. */
  dispatched(priority: EmbedPriority): number {
    return this.#dispatched[priority];
  }

  /** Outstanding images of inference worker `target`. */
  load(target: number): number {
    return this.#perTarget.get(target) ?? 0;
  }

  /** The oldest waiting image of the first class (interactive first) that `mayTake` allows. */
  nextQueued(mayTake: (priority: EmbedPriority) => boolean): EmbedRequest | undefined {
    for (const priority of PRIORITIES) {
      const queue = this.#queued[priority];
      while (queue.length > 0 && mayTake(priority)) {
        const r = queue.shift() as EmbedRequest;
        if (!r.settled) return r;
      }
    }
    return undefined;
  }

  markDispatched(r: EmbedRequest, target: number): void {
    r.stage = 'decoding';
    r.target = target;
    this.#dispatched[r.priority]++;
    this.#perTarget.set(target, this.load(target) + 1);
  }

  markDecoded(id: number): void {
    const r = this.#byId.get(id);
    if (r !== undefined && r.stage === 'decoding') r.stage = 'decoded';
  }

  markRunning(ids: readonly number[]): void {
    for (const id of ids) {
      const r = this.#byId.get(id);
      if (r !== undefined && r.stage !== 'running') {
        r.stage = 'running';
        this.#running[r.priority]++;
      }
    }
  }

  /** Unsettled images matching `predicate`. */
  filter(predicate: (r: EmbedRequest) => boolean): EmbedRequest[] {
    return [...this.#byId.values()].filter(predicate);
  }

  resolve(id: number, vector: Float32Array): void {
    const r = this.#remove(id);
    r?.resolve(vector);
  }

  reject(id: number, error: LookalikeError): void {
    const r = this.#remove(id);
    if (r === undefined) return;
    r.call.failed = true;
    r.reject(error);
  }

  /** Resolves when nothing is outstanding. */
  idle(): Promise<void> {
    if (this.#byId.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #remove(id: number): EmbedRequest | undefined {
    const r = this.#byId.get(id);
    if (r === undefined) return undefined;
    this.#byId.delete(id);
    r.settled = true;
    this.#open[r.priority]--;
    if (r.stage === 'running') this.#running[r.priority]--;
    if (r.stage !== 'queued') {
      this.#dispatched[r.priority]--;
      this.#perTarget.set(r.target, this.load(r.target) - 1);
    }
    if (this.#byId.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
    return r;
  }
}
