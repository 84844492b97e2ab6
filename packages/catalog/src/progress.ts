/**
 * Progress of a running reindex: the current phase with its rate and ETA, how many items are
 * searchable now and how many the catalog will hold when the run ends. Events are throttled.
 */
import type { ReindexPhase, ReindexProgress } from '@lookalike/core';

/** Least time between two progress events within a phase. */
export const PROGRESS_INTERVAL_MS = 200;

export interface ProgressTrackerOptions {
  startedAt: number;
  /** Items searchable right now (the catalog's size). */
  searchable: () => number;
  /** Receives every emitted event (also kept as `current`). */
  emit: (p: ReindexProgress) => void;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** Tracks one run; `current()` is what `reindexProgress()` returns. */
export class ProgressTracker {
  readonly startedAt: number;
  readonly #searchable: () => number;
  readonly #emit: (p: ReindexProgress) => void;
  readonly #now: () => number;
  #phase: ReindexPhase = 'scanning';
  #phaseStart: number;
  #done = 0;
  #total = 0;
  #rate = 0;
  #eta: number | null = null;
  #expected: number | null = null;
  #lastEmit = Number.NEGATIVE_INFINITY;

  constructor(options: ProgressTrackerOptions) {
    this.startedAt = options.startedAt;
    this.#searchable = options.searchable;
    this.#emit = options.emit;
    this.#now = options.now ?? Date.now;
    this.#phaseStart = this.#now();
  }

  /** The state now, with `searchable` read at this moment. */
  current(): ReindexProgress {
    return {
      phase: this.#phase,
      done: this.#done,
      total: this.#total,
      rate: this.#rate,
      etaSeconds: this.#eta,
      startedAt: this.startedAt,
      searchable: this.#searchable(),
      expected: this.#expected,
    };
  }

  /** Items the catalog will hold when the run ends (null while unknown). */
  get expected(): number | null {
    return this.#expected;
  }

  set expected(n: number | null) {
    this.#expected = n === null ? null : Math.max(0, n);
  }

  /** Enters a phase of `total` steps (always emits). */
  phase(phase: ReindexPhase, total: number, done = 0): void {
    this.#phase = phase;
    this.#total = total;
    this.#phaseStart = this.#now();
    this.update(done, true);
  }

  /** Records progress in the phase; emits at most every PROGRESS_INTERVAL_MS unless forced or finished. */
  update(done: number, force = false): void {
    const now = this.#now();
    this.#done = done;
    const elapsed = (now - this.#phaseStart) / 1000;
    this.#rate = elapsed > 0 ? done / elapsed : 0;
    this.#eta = this.#rate > 0 ? Math.max(0, (this.#total - done) / this.#rate) : done >= this.#total ? 0 : null;
    if (!force && now - this.#lastEmit < PROGRESS_INTERVAL_MS && done < this.#total) return;
    this.#lastEmit = now;
    this.#emit(this.current());
  }
}
