/**
 * @lookalike/index: an exact (IndexFlatL2) or approximate (HNSW) vector index over FAISS,
 * through faiss-node 0.5.1 built with the lookalike patch (see ../README.md).
 *
 * faiss.ts loads the addon; vector-index.ts is the index (ids, incremental add/remove, HNSW
 * tombstones) with compaction.ts; persistence.ts, file-io.ts and format.ts save and load;
 * build.ts builds a whole index in a worker (worker.ts).
 */
export {
  benchSearch,
  formatSearchBench,
  type SearchBenchOptions,
  type SearchBenchPath,
  type SearchBenchReport,
} from './bench-search.js';
export { buildIndexInWorker, type IndexBuilder } from './build.js';
export { createIndex, loadIndex } from './create.js';
export { faissStatus } from './faiss.js';
export { removeStaleTempFiles, tempFileWriter, tempPathFor } from './file-io.js';
export { FORMAT_VERSION } from './format.js';
export type {
  BuildIndexOptions,
  CreateIndexOptions,
  ExactVectors,
  IndexKind,
  IndexStats,
  LoadIndexOptions,
  SearchFilter,
  SearchHit,
  VectorIndex,
} from './types.js';
