/**
 * Test wrappers around the REAL embedder: count what is embedded, pretend to be other weights,
 * or hold catalog work at a gate until the test opens it.
 */
import type { Embedder, EmbedOptions, ImageInput, WeightsInfo } from '@lookalike/core';

export interface CountingEmbedder extends Embedder {
  /** Images that went through a successful embed call. */
  readonly embedded: number;
  /** embed calls made (successful or not). */
  readonly calls: number;
  /** Largest number of images in one embed call. */
  readonly maxPerCall: number;
  /** Priorities the calls asked for (undefined: none given). */
  readonly priorities: ReadonlySet<string | undefined>;
  reset(): void;
}

/** Wraps a real embedder, counting images; `weights` may be overridden. Disposing it is a no-op. */
export function countingEmbedder(real: Embedder, weights: Partial<WeightsInfo> = {}): CountingEmbedder {
  let embedded = 0;
  let calls = 0;
  let maxPerCall = 0;
  const priorities = new Set<string | undefined>();
  return {
    get dimension() {
      return real.dimension;
    },
    get runtime() {
      return real.runtime;
    },
    weights: { ...real.weights, ...weights },
    get embedded() {
      return embedded;
    },
    get calls() {
      return calls;
    },
    get maxPerCall() {
      return maxPerCall;
    },
    priorities,
    reset() {
      embedded = 0;
      calls = 0;
      maxPerCall = 0;
      priorities.clear();
    },
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      calls++;
      maxPerCall = Math.max(maxPerCall, inputs.length);
      priorities.add(options?.priority);
      const out = await real.embed(inputs, options);
      embedded += inputs.length;
      return out;
    },
    dispose: () => Promise.resolve(),
  };
}

export interface GatedEmbedder extends Embedder {
  /** Resolves once the first batch-priority call is waiting at the gate. */
  readonly firstHeld: Promise<void>;
  /** Lets every held and later batch call through. */
  open(): void;
}

/**
 * Holds every `batch` call (catalog work) until `open()`; interactive calls (queries) pass at
 * once. Makes "a query before the first batch commits" deterministic.
 */
export function gatedEmbedder(real: Embedder): GatedEmbedder {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let held!: () => void;
  const firstHeld = new Promise<void>((r) => {
    held = r;
  });
  return {
    get dimension() {
      return real.dimension;
    },
    get runtime() {
      return real.runtime;
    },
    get weights() {
      return real.weights;
    },
    firstHeld,
    open: () => release(),
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (options?.priority === 'batch') {
        held();
        await gate;
      }
      return real.embed(inputs, options);
    },
    dispose: () => Promise.resolve(),
  };
}
