/**
 * Test wrappers around the REAL embedder: count what is embedded, pretend to be other weights,
 * (gating catalog work is test/helpers/gate.ts).
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
