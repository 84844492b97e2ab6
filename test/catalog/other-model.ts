/**
 * A second "model" for model-change tests without converting a second ResNet50: the real
 * embedder's vectors with their components in reverse order (a fixed permutation, still
 * L2-normalised), under other weights. A query embedded with one model and searched among the
 * other's vectors finds nonsense, so a test can tell which model made the vectors that answer.
 */
import type { Embedder, EmbedOptions, ImageInput, WeightsInfo } from '@lookalike/core';

export const OTHER_MODEL_WEIGHTS: WeightsInfo = {
  source: 'file',
  md5: 'feedfacefeedfacefeedfacefeedface',
  untrained: false,
  description: 'ResNet50 (file other.h5, md5 feedface…, not the official Keras file)',
};

export interface OtherModel extends Embedder {
  /** True once dispose() was called. */
  readonly disposed: boolean;
}

export function otherModel(real: Embedder, weights: WeightsInfo = OTHER_MODEL_WEIGHTS): OtherModel {
  let disposed = false;
  return {
    get dimension() {
      return real.dimension;
    },
    get runtime() {
      return real.runtime;
    },
    weights,
    get disposed() {
      return disposed;
    },
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (disposed) throw new Error('other model used after dispose');
      const out = await real.embed(inputs, options);
      return out.map((v) => v.slice().reverse());
    },
    async dispose() {
      disposed = true;
    },
  };
}

/** The real embedder under its own weights, recording dispose() (the service disposes a previous model). */
export function trackedModel(real: Embedder): OtherModel {
  let disposed = false;
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
    get disposed() {
      return disposed;
    },
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (disposed) throw new Error('previous model used after dispose');
      return real.embed(inputs, options);
    },
    async dispose() {
      disposed = true;
    },
  };
}
