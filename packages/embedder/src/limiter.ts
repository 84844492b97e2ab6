/**
 * A counting semaphore with two classes: at most `limit` tasks run at once; when a slot frees,
 * the oldest waiting 'interactive' task starts before any 'batch' task.
 */
import type { EmbedPriority } from '@lookalike/core';
import { Fifo } from './fifo.js';

export class PriorityLimiter {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Record<EmbedPriority, Fifo<() => void>> = { interactive: new Fifo(), batch: new Fifo() };
  #idleWaiters: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be ≥ 1, got ${limit}`);
    this.#limit = limit;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.interactive.length + this.#waiting.batch.length;
  }

  async run<T>(priority: EmbedPriority, task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      // The finishing task hands its slot over directly (#active is not decremented).
      await new Promise<void>((resolve) => this.#waiting[priority].push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.interactive.shift() ?? this.#waiting.batch.shift();
      if (next !== undefined) next();
      else if (--this.#active === 0) this.#wakeIdle();
    }
  }

  /** Resolves once no task runs or waits. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
