/**
 * Test helper: writes a small labelled catalog of varied garment images (drawn with sharp by
 * the demo generator) plus a styles.csv-format labels file.
 */
import { rm } from 'node:fs/promises';
import { type DemoItem, generateDemoCatalog } from '@lookalike/catalog';

export interface TestCatalog {
  /** The folder passed in. */
  dir: string;
  /** `<dir>/images`: one image per item, `<id>.jpg` (every 10th `<id>.png`). */
  imagesDir: string;
  /** `<dir>/labels.csv`. */
  labelsPath: string;
  items: DemoItem[];
}

export interface TestCatalogOptions {
  /** Number of images. @defaultValue 40 */
  count?: number;
  /** @defaultValue 7 */
  seed?: number;
  /** Image width in pixels. @defaultValue 224 */
  width?: number;
  /** Remove `dir` first. @defaultValue true */
  clean?: boolean;
}

/**
 * Writes `count` images (8 article types: Tshirts, Shirts, Trousers, Skirts, Dresses,
 * Casual Shoes, Handbags, Caps, cycling) with ids 10000, 10001, … and a labels file.
 */
export async function makeTestCatalog(dir: string, options: TestCatalogOptions = {}): Promise<TestCatalog> {
  if (options.clean ?? true) await rm(dir, { recursive: true, force: true });
  const demo = await generateDemoCatalog(dir, {
    count: options.count ?? 40,
    seed: options.seed ?? 7,
    width: options.width ?? 224,
  });
  return { dir, imagesDir: demo.imagesDir, labelsPath: demo.labelsPath, items: demo.items };
}
