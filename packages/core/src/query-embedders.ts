/**
 * Which embedder a query is embedded with: the one whose weights made the vectors that answer.
 * During a model change the catalog keeps answering from the previous model's vectors, so queries
 * go through the previous embedder until the catalog swaps; that embedder is then disposed once
 * no query uses it any more.
 */
import type { Embedder, Logger, WeightsInfo } from './ports.js';

/** An embedder a query holds until its embed call has finished. */
export interface EmbedderLease {
  embedder: Embedder;
  release(): void;
}

export interface QueryEmbedders {
  /** The embedder for the vectors that answer now (the previous one while they are its vectors). */
  lease(): EmbedderLease;
  /** Disposes the previous embedder once the catalog no longer answers with it and no query holds it. */
  settle(): void;
  /** Disposes the previous embedder (if still open) and waits for it. */
  close(): Promise<void>;
}

export interface QueryEmbeddersOptions {
  current: Embedder;
  /** The previous model, while the catalog may still answer from its vectors. */
  previous: Embedder | undefined;
  /** The weights of the vectors that answer now. */
  answering: () => WeightsInfo;
  logger: Logger;
}

export function createQueryEmbedders(o: QueryEmbeddersOptions): QueryEmbedders {
  let previous = o.previous;
  let inUse = 0;
  let disposing: Promise<void> = Promise.resolve();

  const retire = (): void => {
    const p = previous;
    if (p === undefined) return;
    previous = undefined;
    o.logger.info({ weights: p.weights.description }, 'previous model retired: the catalog answers with the new one');
    disposing = p.dispose().catch((err: unknown) => o.logger.warn({ err }, 'disposing the previous model failed'));
  };

  const settle = (): void => {
    if (previous !== undefined && inUse === 0 && o.answering().md5 !== previous.weights.md5) retire();
  };

  return {
    lease() {
      const p = previous;
      if (p === undefined || o.answering().md5 !== p.weights.md5) {
        settle();
        return { embedder: o.current, release: () => {} };
      }
      inUse++;
      let released = false;
      return {
        embedder: p,
        release() {
          if (released) return;
          released = true;
          inUse--;
          settle();
        },
      };
    },
    settle,
    async close() {
      retire();
      await disposing;
    },
  };
}
