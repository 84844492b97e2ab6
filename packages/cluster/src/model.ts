/**
 * The model identity of the vectors in PostgreSQL: one catalog holds vectors of several models
 * during a model change, each under its own key.
 */
import type { WeightsInfo } from '@lookalike/core';

/** `resnet50-gmp:<md5>:fp32`: the architecture and pooling, the weights' md5, the precision. */
export function modelKey(weights: Pick<WeightsInfo, 'md5'>): string {
  return `resnet50-gmp:${weights.md5}:fp32`;
}
