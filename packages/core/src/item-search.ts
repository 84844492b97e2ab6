/**
 * "More like this" search: an item's stored vector, searched without the item and the chain's
 * ids, with the chain's filters. No download, no embedding. Internal to the service.
 */
import { LookalikeError } from './errors.js';
import type { MoreRequest } from './more-like-this.js';
import type { CatalogPort, Logger, SimilarItem, WeightsInfo } from './ports.js';

export interface ItemSearch {
  catalog: CatalogPort;
  /** The weights of the vectors that answer now. */
  answeringWeights: () => WeightsInfo;
  request: MoreRequest;
  k: number;
  log: Logger;
}

/**
 * Searches with the stored vector of `request.itemId` (the answering model's). When the catalog
 * swapped models in between (INDEX_MODEL_MISMATCH), it is done once more with the new vector.
 * @throws LookalikeError ITEM_NOT_FOUND when the catalog has no vector for the item
 */
export async function searchFromItem(
  search: ItemSearch,
  retried = false,
): Promise<{ results: SimilarItem[]; weights: WeightsInfo }> {
  const { catalog, request, k } = search;
  const weights = search.answeringWeights();
  const vector = await catalog.vectorOf?.(request.itemId);
  if (vector === undefined) {
    throw new LookalikeError('ITEM_NOT_FOUND', `Item ${JSON.stringify(request.itemId)} is not in the catalog`, {
      details: { itemId: request.itemId },
    });
  }
  try {
    const results = catalog.search(vector, {
      k,
      excludeDuplicates: true,
      weightsMd5: weights.md5,
      exclude: request.exclude,
      ...(request.filters === undefined ? {} : { filters: request.filters }),
    });
    return { results, weights };
  } catch (err) {
    const now = search.answeringWeights().md5;
    const swapped = (err as { code?: unknown }).code === 'INDEX_MODEL_MISMATCH' && now !== weights.md5;
    if (retried || !swapped) throw err;
    search.log.info({ from: weights.md5, to: now }, 'the catalog swapped models mid-query; searching again');
    return searchFromItem(search, true);
  }
}
