/**
 * Test wrappers around the REAL embedder: count what is embedded, or pretend to be other weights.
 */
import type { ImageInput, WeightsInfo } from '@lookalike/core';
import type { ImageEmbedder } from '@lookalike/embedder';

export interface CountingEmbedder extends ImageEmbedder {
  /** Images that went through inference (embed + embedPrepared). */
  readonly embedded: number;
  /** Images prepared (decoded). */
  readonly prepared: number;
  reset(): void;
}

/** Wraps a real embedder, counting images; `weights` may be overridden. */
export function countingEmbedder(real: ImageEmbedder, weights: Partial<WeightsInfo> = {}): CountingEmbedder {
  let embedded = 0;
  let prepared = 0;
  return {
    get dimension() {
      return real.dimension;
    },
    get runtime() {
      return real.runtime;
    },
    weights: { ...real.weights, ...weights },
    get preprocessing() {
      return real.preprocessing;
    },
    get runtimeDetail() {
      return real.runtimeDetail;
    },
    get stats() {
      return real.stats;
    },
    get embedded() {
      return embedded;
    },
    get prepared() {
      return prepared;
    },
    reset() {
      embedded = 0;
      prepared = 0;
    },
    async embed(inputs: readonly ImageInput[]) {
      const out = await real.embed(inputs);
      embedded += inputs.length;
      return out;
    },
    async prepare(input: ImageInput) {
      const t = await real.prepare(input);
      prepared++;
      return t;
    },
    async embedPrepared(tensors: readonly Float32Array[]) {
      const out = await real.embedPrepared(tensors);
      embedded += tensors.length;
      return out;
    },
    dispose: () => Promise.resolve(),
  };
}
