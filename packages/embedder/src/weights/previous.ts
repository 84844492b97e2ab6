/**
 * `<modelsDir>/previous/`: the model the current one replaced (one kept). While a catalog made
 * with it is re-embedded with the new model, queries are still embedded with it, so the stored
 * vectors keep answering until the new ones are complete.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Logger, silentLogger } from '@lookalike/core';
import { MANIFEST_FILE, type Manifest, manifestFiles, readManifest } from './manifest.js';

export const PREVIOUS_DIR = 'previous';

/** Where the replaced model lives: `<modelsDir>/previous`. */
export function previousModelsDir(modelsDir: string): string {
  return join(modelsDir, PREVIOUS_DIR);
}

/** The previous model's manifest, or undefined when there is none (or it is incomplete). */
export async function readPreviousManifest(modelsDir: string): Promise<Manifest | undefined> {
  try {
    return await readManifest(previousModelsDir(modelsDir));
  } catch {
    return undefined;
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Runs `replace` (a conversion that installs new model files in `modelsDir`), keeping the model it
 * replaces in `<modelsDir>/previous/`. The current files are hard-linked (or copied) aside first,
 * so the models dir holds a whole model at every moment; they become `previous/` only when the
 * replacement succeeded with other weights (a failed one leaves everything as it was).
 */
export async function replaceKeepingPrevious<T extends { manifest: Manifest }>(
  modelsDir: string,
  replace: () => Promise<T>,
  logger: Logger = silentLogger,
): Promise<T> {
  let current: Manifest | undefined;
  try {
    current = await readManifest(modelsDir);
  } catch {
    current = undefined;
  }
  if (current === undefined) return replace();
  const staged = join(modelsDir, `.previous-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    for (const f of [...manifestFiles(current).map((m) => m.path), MANIFEST_FILE]) {
      await linkOrCopy(join(modelsDir, f), join(staged, f));
    }
    const result = await replace();
    if (result.manifest.sourceMd5 !== current.sourceMd5) {
      const previous = previousModelsDir(modelsDir);
      await rm(previous, { recursive: true, force: true });
      await rename(staged, previous);
      logger.info(
        { previous: current.sourceMd5, current: result.manifest.sourceMd5 },
        'the replaced model is kept in previous/',
      );
    }
    return result;
  } finally {
    await rm(staged, { recursive: true, force: true });
  }
}
