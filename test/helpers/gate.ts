/**
 * An embedder wrapper for the catalog that lets catalog (`batch`) work through only as far as the
 * test allows, so "before the first batch commits" and "while the index still runs" are states a
 * test reaches on purpose, not by timing. Queries (`interactive`) always pass at once.
 */
import type { Embedder, EmbedOptions, ImageInput } from '@lookalike/core';

export interface SteppedEmbedder extends Embedder {
  /** Lets `n` more catalog images through (each `embed` call of the catalog is one image). */
  allow(n: number): void;
  /** Lets everything through from now on. */
  openAll(): void;
  /** Resolves once a catalog image is waiting at the gate (the reindex is running, nothing passed). */
  readonly firstHeld: Promise<void>;
}

export function steppedEmbedder(real: Embedder): SteppedEmbedder {
  let credits = 0;
  let open = false;
  const waiting: (() => void)[] = [];
  let markHeld!: () => void;
  const firstHeld = new Promise<void>((r) => {
    markHeld = r;
  });
  const pump = () => {
    while (waiting.length > 0 && (open || credits > 0)) {
      if (!open) credits--;
      waiting.shift()?.();
    }
  };
  return passThrough(real, {
    firstHeld,
    allow(n: number) {
      credits += n;
      pump();
    },
    openAll() {
      open = true;
      pump();
    },
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (options?.priority === 'batch') {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          markHeld();
          pump();
        });
      }
      return real.embed(inputs, options);
    },
    dispose: () => Promise.resolve(),
  });
}

/**
 * `wrapper` with what it passes through from `real`, read live on every access: the dimension,
 * the runtime, and the weights unless `wrapper` has its own.
 */
export function passThrough<T extends object>(
  real: Embedder,
  wrapper: T,
): NoInfer<T> & Pick<Embedder, 'dimension' | 'runtime' | 'weights'> {
  const live = (read: () => unknown): PropertyDescriptor => ({ get: read, enumerable: true, configurable: true });
  return Object.defineProperties(wrapper, {
    dimension: live(() => real.dimension),
    runtime: live(() => real.runtime),
    ...('weights' in wrapper ? {} : { weights: live(() => real.weights) }),
  }) as T & Pick<Embedder, 'dimension' | 'runtime' | 'weights'>;
}

/** Resolves once `check()` is true, looking again on every event-loop turn (bounded by `timeoutMs`). */
export async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
