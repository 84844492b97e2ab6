/**
 * The model identity of the vectors in PostgreSQL: one catalog holds vectors of several models
 * during a model change, each under its own key.
 */
import type { WeightsInfo } from '@lookalike/core';

/**
 * `resnet50-gmp:<md5>:<precision>`: the architecture and pooling, the model identity (the
 * weights' md5; for int8 the int8 model's own identity), the precision (fp32 when absent).
 */
export function modelKey(weights: Pick<WeightsInfo, 'md5' | 'precision'>): string {
  return `resnet50-gmp:${weights.md5}:${weights.precision ?? 'fp32'}`;
}
