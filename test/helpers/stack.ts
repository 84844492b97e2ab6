/**
 * Test helper: a SimilarityService built from the real pieces — untrained ResNet50 on ONNX
 * Runtime, a generated catalog in SQLite + FAISS, sharp collages — in a fresh temp folder.
 *
 *   const stack = await createTestStack({ catalogSize: 24 });
 *   const answer = await stack.service.findSimilar(await readFile(stack.items[0].path), { userId: 't' });
 *   await stack.close();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Catalog, openCatalog } from '@lookalike/catalog';
import {
  createSimilarityService,
  DEFAULT_IMAGE_LIMITS,
  type Embedder,
  type ImageLimits,
  type Logger,
  parseConfig,
  type ServiceSettings,
  type SimilarityService,
  type SimilarityServiceOptions,
  serviceSettingsFrom,
  silentLogger,
} from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { createFetcher } from '@lookalike/fetch';
import { createCollageRenderer, createImageInspector } from '@lookalike/render';
import { makeTestCatalog } from './catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from './models.js';

export interface TestStackOptions {
  /** Images in the generated catalog. @defaultValue 24 */
  catalogSize?: number;
  /** Seed of the generated catalog. @defaultValue 7 */
  seed?: number;
  /**
   * Service settings over the configured defaults. @defaultValue { ratePerMinute: 1000, pageRatePerMinute: 1000 }
   * (tests of the limiter pass their own)
   */
  limits?: Partial<ServiceSettings>;
  /** Image limits of the inspector, the fetcher and the service. @defaultValue the product's defaults */
  image?: Partial<ImageLimits>;
  /** Hosts the service may fetch from. @defaultValue ['127.0.0.1'] */
  allowedHosts?: string[];
  /** Fetch timeouts. @defaultValue 5 s total, 2 s connect */
  fetchTimeouts?: { timeoutMs?: number; connectTimeoutMs?: number };
  /** Other service options (clock, observer, loadImage…). */
  service?: Partial<
    Omit<SimilarityServiceOptions, 'embedder' | 'catalog' | 'logger' | 'settings' | 'inspector' | 'fetcher'>
  >;
  /** Index the catalog before returning. @defaultValue true */
  reindex?: boolean;
  /**
   * Wraps the embedder the catalog uses (e.g. a gate that holds catalog batches), so tests can
   * decide when a reindex commits. Queries use the real embedder. @defaultValue the real one
   */
  catalogEmbedder?: (real: ImageEmbedder) => Embedder;
  /** @defaultValue silentLogger */
  logger?: Logger;
  /** Models folder (e.g. one with the int8 model). @defaultValue the untrained test weights */
  modelsDir?: string;
  /** @defaultValue 'fp32' */
  precision?: 'fp32' | 'int8';
}

export interface TestStackItem {
  id: string;
  /** Absolute path of the catalog image. */
  path: string;
  articleType: string;
  gender: string;
  baseColour: string;
  productDisplayName: string;
}

export interface TestStack {
  service: SimilarityService;
  catalog: Catalog;
  embedder: ImageEmbedder;
  /** The temp folder holding everything (removed by close()). */
  root: string;
  /** Catalog database and FAISS index. */
  dataDir: string;
  /** The generated images. */
  imagesDir: string;
  labelsPath: string;
  items: TestStackItem[];
  /**
   * Another service over this stack's embedder (and its catalog, or `catalog`), with other settings;
   * it does not own them, so closing it leaves the stack running.
   */
  serviceWith(settings: Partial<ServiceSettings>, catalog?: Catalog): SimilarityService;
  /** Closes the service (and with it the catalog and embedder) and removes the temp folder. */
  close(): Promise<void>;
}

/** Builds a real stack in a fresh folder under test/.tmp/. */
export async function createTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const logger = options.logger ?? silentLogger;
  const modelsDir = options.modelsDir ?? (await ensureUntrainedModels());
  const root = await mkdtemp(join(TEST_TMP_DIR, 'stack-'));
  const generated = await makeTestCatalog(join(root, 'catalog'), {
    count: options.catalogSize ?? 24,
    seed: options.seed ?? 7,
  });
  const dataDir = join(root, 'data');
  const embedder = await createEmbedder({
    modelsDir,
    runtime: 'onnx',
    batchSize: 8,
    logger,
    ...(options.precision === undefined ? {} : { precision: options.precision }),
  });
  let catalog: Catalog;
  try {
    catalog = await openCatalog({
      dataDir,
      imagesDir: generated.imagesDir,
      labelsPath: generated.labelsPath,
      embedder: options.catalogEmbedder?.(embedder) ?? embedder,
      logger,
    });
  } catch (err) {
    await embedder.dispose();
    throw err;
  }
  if (options.reindex ?? true) await catalog.reindex();
  const image: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, ...(options.image ?? {}) };
  const settings: ServiceSettings = {
    ...serviceSettingsFrom(parseConfig({})),
    ratePerMinute: 1000,
    pageRatePerMinute: 1000,
    ...(options.limits ?? {}),
    image,
  };
  const build = (over: Partial<ServiceSettings>, cat: Catalog, owns: boolean): SimilarityService =>
    createSimilarityService({
      embedder,
      catalog: cat,
      inspector: createImageInspector(image),
      fetcher: createFetcher({
        allowedHosts: options.allowedHosts ?? ['127.0.0.1'],
        // The loopback fakes serve attachments from 127.0.0.1 over http (with tokens, for Slack).
        allowPrivate: true,
        limits: image,
        timeoutMs: options.fetchTimeouts?.timeoutMs ?? 5_000,
        connectTimeoutMs: options.fetchTimeouts?.connectTimeoutMs ?? 2_000,
        logger,
      }),
      collage: createCollageRenderer(),
      settings: { ...settings, ...over },
      logger,
      ...(options.service ?? {}),
      ownsDependencies: owns,
    });
  const service = build({}, catalog, true);
  let closed: Promise<void> | undefined;
  return {
    service,
    catalog,
    embedder,
    root,
    dataDir,
    imagesDir: generated.imagesDir,
    labelsPath: generated.labelsPath,
    items: generated.items.map((it) => ({
      id: it.id,
      path: join(generated.imagesDir, it.file),
      articleType: it.articleType,
      gender: it.gender,
      baseColour: it.baseColour,
      productDisplayName: it.productDisplayName,
    })),
    serviceWith: (over, cat) => build(over, cat ?? catalog, false),
    close() {
      closed ??= (async () => {
        await service.close();
        await rm(root, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
