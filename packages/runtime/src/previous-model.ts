/**
 * The previous model of a model change: when the catalog's vectors were made with other weights
 * than the loaded ones and `<modelsDir>/previous/` holds exactly those weights, it is opened too,
 * so queries keep being answered from the stored vectors while the catalog is re-embedded.
 */
import type { Logger, WeightsInfo } from '@lookalike/core';
import type { EmbedderOptions, ImageEmbedder } from '@lookalike/embedder';

export interface PreviousModelOptions {
  dataDir: string;
  /** The loaded embedder's options (the previous model runs with one worker). */
  embedder: EmbedderOptions;
  /** The loaded weights. */
  current: WeightsInfo;
  logger: Logger;
}

/**
 * Opens the embedder of the weights the catalog was built with, when they are not the loaded ones
 * and are kept in `<modelsDir>/previous/`; undefined otherwise (then the re-embedded items answer
 * as they are made). A previous model that fails to load is logged, never fatal.
 */
export async function openPreviousModel(o: PreviousModelOptions): Promise<ImageEmbedder | undefined> {
  const [{ readStoredWeights }, { createEmbedder, previousModelsDir, readPreviousManifest }] = await Promise.all([
    import('@lookalike/catalog'),
    import('@lookalike/embedder'),
  ]);
  const stored = readStoredWeights(o.dataDir);
  if (stored === undefined || stored.md5 === o.current.md5) return undefined;
  const log = o.logger.child({ component: 'previous-model' });
  const manifest = await readPreviousManifest(o.embedder.modelsDir);
  if (manifest?.sourceMd5 !== stored.md5) {
    log.warn(
      { stored: stored.md5, previous: manifest?.sourceMd5 ?? null },
      'the model the catalog was built with is not kept: the re-embedded items answer as they are made',
    );
    return undefined;
  }
  try {
    const embedder = await createEmbedder({
      ...o.embedder,
      modelsDir: previousModelsDir(o.embedder.modelsDir),
      workers: 1,
      warnUntrained: false,
    });
    log.info(
      { weights: embedder.weights.description },
      'answering with the previous model until the catalog is re-embedded',
    );
    return embedder;
  } catch (err) {
    log.warn({ err }, 'the previous model did not load: the re-embedded items answer as they are made');
    return undefined;
  }
}
