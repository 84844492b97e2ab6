/**
 * The one reindex-progress throttle: a message edited at most once per interval, the latest
 * text winning, one edit in flight at a time, and a final text that always goes out last.
 */

/** The smallest gap between two progress edits of a `/reindex` message, on every chat surface. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 2000;

/** The clock the throttle waits on (tests pass a manual one). */
export interface ThrottleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: ThrottleClock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});

export interface ProgressThrottleOptions {
  /** Smallest gap between the starts of two progress writes. */
  intervalMs: number;
  /** Edits the message (chat.update, editReply…). */
  write(text: string): Promise<unknown>;
  /** A failed write is reported here; the throttle carries on. */
  onWriteError(err: unknown): void;
  /**
   * When the message was last written before the throttle took over (Slack posts the message
   * first). @defaultValue never: the first push is written at once
   */
  lastWriteAt?: number;
  /** @defaultValue systemClock */
  clock?: ThrottleClock;
}

export interface ProgressThrottle {
  /**
   * Offers a newer text. It is written at once when the interval has passed and no write is in
   * flight; otherwise it waits, and a later push replaces it.
   */
  push(text: string): void;
  /**
   * Drops any waiting text, writes `text` once the write in flight (if any) is done, and ignores
   * later pushes. Resolves when that last write has settled.
   */
  finish(text: string): Promise<void>;
  /**
   * Like `finish` without a last text: drops any waiting text, ignores later pushes, and resolves
   * once the write in flight (if any) has settled, so the caller's own final write comes last.
   */
  cancel(): Promise<void>;
}

export function createProgressThrottle(options: ProgressThrottleOptions): ProgressThrottle {
  const clock = options.clock ?? systemClock;
  let lastWriteAt = options.lastWriteAt ?? Number.NEGATIVE_INFINITY;
  let waiting: string | undefined;
  let timer: unknown;
  let inFlight: Promise<void> | undefined;
  let closed = false;

  const send = (text: string): Promise<void> =>
    options.write(text).then(
      () => undefined,
      (err: unknown) => options.onWriteError(err),
    );

  function pump(): void {
    if (closed || waiting === undefined || inFlight !== undefined || timer !== undefined) return;
    const wait = lastWriteAt + options.intervalMs - clock.now();
    if (wait > 0) {
      timer = clock.setTimeout(() => {
        timer = undefined;
        pump();
      }, wait);
      return;
    }
    const text = waiting;
    waiting = undefined;
    lastWriteAt = clock.now();
    inFlight = send(text).finally(() => {
      inFlight = undefined;
      pump();
    });
  }

  async function cancel(): Promise<void> {
    closed = true;
    waiting = undefined;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    await inFlight;
  }

  return {
    push(text) {
      if (closed) return;
      waiting = text;
      pump();
    },
    async finish(text) {
      await cancel();
      await send(text);
    },
    cancel,
  };
}
