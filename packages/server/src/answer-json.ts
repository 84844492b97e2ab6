/**
 * The JSON of an answer, as /api/similar and /api/more send it to the local page: each result
 * with its display texts, its product link (http/https only, else absent) and price, and the
 * chain a "More like this" press continues (`filters`, `excluded`).
 */
import { type Answer, itemLink, itemPrice, itemSubtitle, itemTitle } from '@lookalike/core';

export interface AnswerJsonResult {
  rank: number;
  id: string;
  name: string;
  subtitle: string;
  /** "49.90 EUR", "39.90 EUR (was 49.90 EUR)" or '' (none). */
  price: string;
  /** The product page, http(s) only; absent when the item has none (or another scheme). */
  link?: string;
  brand?: string;
  availability?: string;
  distance: number;
  similarity: number;
  metadata: Answer['results'][number]['metadata'];
  imageUrl: string;
}

export interface AnswerJson {
  requestId: string;
  results: AnswerJsonResult[];
  weights: Answer['weights'];
  notices: Answer['notices'];
  noCloseMatch: boolean;
  collage: string;
  /** The filters searched with ({} for none): a "More like this" press sends them back. */
  filters: Record<string, string>;
  /** Ids this answer left out ("more like this": the item and the chain before it). */
  excluded: string[];
  /** "More like this": the item the answer is about. */
  sourceItemId?: string;
}

export function answerJson(answer: Answer): AnswerJson {
  const rid = encodeURIComponent(answer.requestId);
  return {
    requestId: answer.requestId,
    results: answer.results.map((r) => {
      const link = itemLink(r);
      return {
        rank: r.rank,
        id: r.id,
        name: itemTitle(r),
        subtitle: itemSubtitle(r),
        price: itemPrice(r),
        ...(link === undefined ? {} : { link }),
        ...(r.metadata.brand === undefined ? {} : { brand: r.metadata.brand }),
        ...(r.metadata.availability === undefined ? {} : { availability: r.metadata.availability }),
        distance: r.distance,
        similarity: r.similarity,
        metadata: r.metadata,
        imageUrl: `/api/items/${encodeURIComponent(r.id)}/image?request=${rid}`,
      };
    }),
    weights: answer.weights,
    notices: answer.notices,
    noCloseMatch: answer.noCloseMatch,
    collage: `/api/collage/${rid}`,
    filters: { ...(answer.filters ?? {}) },
    excluded: [...(answer.excluded ?? [])],
    ...(answer.sourceItemId === undefined ? {} : { sourceItemId: answer.sourceItemId }),
  };
}
