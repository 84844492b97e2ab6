/**
 * `openReplicaCatalog`: the catalog an answering replica searches. Every vector of the loaded
 * model is loaded by binary COPY straight into an in-memory FAISS index, the live items'
 * metadata beside it, and the changes committed meanwhile applied; then LISTEN/NOTIFY and
 * "changes since version N" keep it current with incremental adds and removals (never a reload).
 * Searches never touch PostgreSQL: during an outage the replica answers from memory.
 */
import { isAbsolute, join } from 'node:path';
import { facetOf, searchItems } from '@lookalike/catalog';
import { type Logger, LookalikeError, type SearchOptions, type SimilarItem, silentLogger } from '@lookalike/core';
import { createIndex } from '@lookalike/index';
import { modelKey } from './model.js';
import { followCatalog } from './replica-follow.js';
import { ReplicaItems } from './replica-items.js';
import type { ClusterReindexSummary, ReplicaCatalog, ReplicaCatalogOptions } from './types.js';
import { db } from './unavailable.js';

/** How long `reindex()` waits for this replica to reflect the run's version before it resolves anyway. */
const REINDEX_SETTLE_MS = 10_000;
const DEFAULT_WHEN_AT_MS = 30_000;

/** A source key that is a URL (a feed's item) is shown as is; a file's is under the images folder. */
function pathOf(imagesDir: string | undefined, sourceKey: string): string {
  if (imagesDir === undefined || /^[a-z][a-z0-9+.-]*:\/\//i.test(sourceKey) || isAbsolute(sourceKey)) return sourceKey;
  return join(imagesDir, sourceKey);
}

/**
 * Loads the catalog `options.name` of the loaded model from PostgreSQL and follows it.
 * @throws LookalikeError DATABASE_UNAVAILABLE (the load failed), INDEX_CORRUPT (stored vectors of
 *   another dimension), FAISS_UNAVAILABLE, CONFIG_INVALID (index kind flat-sq8)
 */
export async function openReplicaCatalog(options: ReplicaCatalogOptions): Promise<ReplicaCatalog> {
  const { pg, name, weights, dimension, imagesDir, reindexer } = options;
  const store = pg.store;
  const model = modelKey(weights);
  const log: Logger = (options.logger ?? silentLogger).child({ component: 'replica', catalog: name });
  if (options.index?.kind === 'flat-sq8') {
    throw new LookalikeError(
      'CONFIG_INVALID',
      'LOOKALIKE_INDEX=flat-sq8 needs the fp32 vectors of the embedded catalog to re-rank with; a PostgreSQL replica holds its vectors only in FAISS: use flat or hnsw',
      { details: { variables: ['LOOKALIKE_INDEX'] } },
    );
  }
  const index = createIndex({
    kind: options.index?.kind ?? 'flat',
    dimension,
    efSearch: options.index?.efSearch ?? 96,
    logger: log,
  });
  const state = new ReplicaItems(index, log);
  const t0 = performance.now();

  let loadedVersion: number;
  try {
    loadedVersion = await db(`loading catalog ${name}`, async () => {
      const loaded = await store.loadVectors(name, model, (chunk) => {
        if (chunk.dimension !== dimension) {
          throw new LookalikeError(
            'INDEX_CORRUPT',
            `PostgreSQL holds vectors of ${chunk.dimension} values for model ${model} in catalog ${name}; the loaded model makes ${dimension}`,
          );
        }
        state.addChunk(chunk);
      });
      state.setItems(await store.liveItems(name));
      // What was committed between the snapshot of the vectors and now, as one catch-up.
      const gap = await store.changesSince(name, loaded.version, model);
      state.apply(gap);
      const orphans = state.dropOrphans();
      if (orphans > 0) log.warn({ orphans }, 'loaded vectors without a live item were left out');
      log.info(
        { version: gap.version, size: state.size(), rows: loaded.rows, ms: Math.round(performance.now() - t0) },
        'replica catalog loaded',
      );
      return gap.version;
    });
  } catch (err) {
    await index.close();
    throw err;
  }

  const follower = followCatalog({
    store,
    catalog: name,
    model,
    version: loadedVersion,
    apply: (changes) => state.apply(changes),
    logger: log,
  });
  let closed = false;

  const replica: ReplicaCatalog = {
    weights,

    size: () => state.size(),

    search(query: Float32Array, searchOptions: SearchOptions): SimilarItem[] {
      const md5 = searchOptions.weightsMd5 ?? weights.md5;
      if (md5 !== weights.md5) {
        throw new LookalikeError(
          'INDEX_MODEL_MISMATCH',
          `The query was embedded with weights md5 ${md5}; this catalog answers with ${weights.source} (md5 ${weights.md5}).`,
          { details: { query: { md5 }, answering: { source: weights.source, md5: weights.md5 } } },
        );
      }
      if (closed) throw new LookalikeError('INTERNAL', 'Catalog is closed');
      return searchItems(state, query, searchOptions, (p) => pathOf(imagesDir, p));
    },

    facet: (field) => facetOf(state.items(), field),

    vectorOf: (id) => (closed ? undefined : state.vectorOf(id)),

    async reindex(onProgress, runOptions): Promise<ClusterReindexSummary> {
      if (closed) throw new LookalikeError('INTERNAL', 'Catalog is closed');
      const summary = await reindexer.run(onProgress, runOptions);
      // Whoever asked searches this replica next: let it reflect the run first (bounded).
      await follower.whenAt(summary.version, REINDEX_SETTLE_MS).catch((err: unknown) => {
        log.warn({ err, version: summary.version }, 'replica is behind the finished reindex');
      });
      return summary;
    },

    reindexProgress: () => reindexer.progress(),

    answeringWeights: () => weights,

    migration: () => null,

    status: () => ({ loaded: true, version: follower.version, size: state.size(), following: follower.following }),

    items: () =>
      [...state.items()].map((it) => ({
        itemId: it.itemId,
        id: it.id,
        path: pathOf(imagesDir, it.relPath),
        metadata: it.metadata,
      })),

    whenAt: (version, timeoutMs = DEFAULT_WHEN_AT_MS) => follower.whenAt(version, timeoutMs),

    async close() {
      if (closed) return;
      closed = true;
      await follower.close();
      await index.close();
    },
  };
  return replica;
}
