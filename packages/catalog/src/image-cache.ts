/**
 * The feed catalog's image cache: content-addressed files `<dataDir>/image-cache/<sha[0:2]>/<sha>.<ext>`
 * (the extension from the sniffed format). A feed item's `SimilarItem.path` is its cache file;
 * products sharing an image share one file. Written atomically (temp file + rename).
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { extensionOf, sniff } from '@lookalike/core';

export const IMAGE_CACHE_DIR = 'image-cache';

export class ImageCache {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** The cache file of some image bytes (relative to the data dir), or undefined when they are not a raster image. */
  relPathOf(bytes: Uint8Array, sha256: string): string | undefined {
    const kind = sniff(bytes);
    if (!kind.image) return undefined;
    return `${IMAGE_CACHE_DIR}/${sha256.slice(0, 2)}/${sha256}.${extensionOf(kind.kind)}`;
  }

  absPath(relPath: string): string {
    return join(this.#dataDir, relPath);
  }

  async has(relPath: string): Promise<boolean> {
    try {
      await access(this.absPath(relPath));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes the file unless it is there (same name, same bytes). */
  async put(relPath: string, bytes: Uint8Array): Promise<void> {
    const abs = this.absPath(relPath);
    if (await this.has(relPath)) return;
    await mkdir(dirname(abs), { recursive: true });
    const tmp = `${abs}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, abs);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  read(relPath: string): Promise<Buffer> {
    return readFile(this.absPath(relPath));
  }

  async remove(relPath: string): Promise<void> {
    await rm(this.absPath(relPath), { force: true });
  }
}
