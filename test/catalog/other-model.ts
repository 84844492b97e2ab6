/**
 * A second "model" for model-change tests without converting a second ResNet50: the real
 * embedder's vectors with their components in reverse order (a fixed permutation, still
 * L2-normalised), under other weights. A query embedded with one model and searched among the
 * other's vectors finds nonsense, so a test can tell which model made the vectors that answer.
 */
import type { Embedder, EmbedOptions, ImageInput, WeightsInfo } from '@lookalike/core';
import { passThrough } from '../helpers/gate.ts';

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
  return tracked(real, 'other', (out) => out.map((v) => v.slice().reverse()), weights);
}

/** The real embedder under its own weights, recording dispose() (the service disposes a previous model). */
export function trackedModel(real: Embedder): OtherModel {
  return tracked(real, 'previous', (out) => out);
}

/** `real` with its vectors through `vectors`, under `weights` (its own unless given); refuses work after dispose(). */
function tracked(
  real: Embedder,
  name: string,
  vectors: (out: Float32Array[]) => Float32Array[],
  weights?: WeightsInfo,
): OtherModel {
  let disposed = false;
  return passThrough(real, {
    ...(weights === undefined ? {} : { weights }),
    get disposed() {
      return disposed;
    },
    async embed(inputs: readonly ImageInput[], options?: EmbedOptions) {
      if (disposed) throw new Error(`${name} model used after dispose`);
      return vectors(await real.embed(inputs, options));
    },
    async dispose() {
      disposed = true;
    },
  });
}
