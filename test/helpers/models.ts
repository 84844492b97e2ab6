/**
 * Untrained model files for tests and benchmarks, generated once (fixed seed) into
 * test/.tmp/models-untrained by the real pipeline: He-init weights → Keras HDF5 → loader →
 * ONNX + tfjs converters → manifest. Safe when several test processes call it at once:
 * one process holds an mkdir lock and builds into a temp dir that is renamed into place.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initUntrainedModels, readManifest } from '@lookalike/embedder';

/** Seed of the shared untrained test weights. */
export const UNTRAINED_TEST_SEED = 42;

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where test artefacts go (git-ignored). */
export const TEST_TMP_DIR = join(REPO_ROOT, 'test', '.tmp');
const MODELS_DIR = join(TEST_TMP_DIR, 'models-untrained');
const LOCK_DIR = `${MODELS_DIR}.lock`;
/** A lock without a live owner, or older than this, is considered abandoned. */
const STALE_LOCK_MS = 10 * 60_000;

let pending: Promise<string> | undefined;

async function isReady(dir: string): Promise<boolean> {
  try {
    const m = await readManifest(dir);
    return m.source === 'untrained' && m.seed === UNTRAINED_TEST_SEED;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockIsStale(): Promise<boolean> {
  try {
    const info = await stat(LOCK_DIR);
    const age = Date.now() - info.mtimeMs;
    if (age > STALE_LOCK_MS) return true;
    const pid = Number((await readFile(join(LOCK_DIR, 'pid'), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 && !alive(pid);
  } catch {
    // No pid file yet (owner just created the lock) or the lock vanished: not stale.
    return false;
  }
}

async function build(): Promise<string> {
  await mkdir(TEST_TMP_DIR, { recursive: true });
  for (;;) {
    if (await isReady(MODELS_DIR)) return MODELS_DIR;
    let locked = false;
    try {
      await mkdir(LOCK_DIR);
      locked = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!locked) {
      if (await lockIsStale()) await rm(LOCK_DIR, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
      if (await isReady(MODELS_DIR)) return MODELS_DIR;
      const staging = `${MODELS_DIR}.build-${process.pid}-${Date.now()}`;
      try {
        await initUntrainedModels({ modelsDir: staging, seed: UNTRAINED_TEST_SEED });
        await rm(MODELS_DIR, { recursive: true, force: true });
        await rename(staging, MODELS_DIR);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      return MODELS_DIR;
    } finally {
      await rm(LOCK_DIR, { recursive: true, force: true });
    }
  }
}

/**
 * Returns a models dir (manifest.json, resnet50.onnx, tfjs/) holding untrained weights
 * (seed {@link UNTRAINED_TEST_SEED}), generating it on first use (~10 s).
 */
export function ensureUntrainedModels(): Promise<string> {
  pending ??= build().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}
