/**
 * Loads the model files named by the manifest (checking the sha256 of every file it reads) and
 * starts the chosen runtime. Runs inside an inference worker.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { type Logger, LookalikeError } from '@lookalike/core';
import type { InferenceRuntime, RuntimeName } from './runtime.js';
import { int8Missing, type Manifest, type Precision } from './weights/manifest.js';

export function modelInvalid(
  modelsDir: string,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): LookalikeError {
  return new LookalikeError('MODEL_INVALID', `${message} (models dir ${modelsDir})`, {
    ...(cause === undefined ? {} : { cause }),
    details: { modelsDir, ...details },
    userMessage: `The model files in ${modelsDir} are damaged or incomplete. Run \`npx lookalike models fetch --force\` or \`npx lookalike models init --untrained --force\`.`,
  });
}

/** Reads a model file and checks its sha256 against the manifest (≈0.1 s per 94 MB). */
async function readVerified(modelsDir: string, rel: string, sha256: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(modelsDir, rel));
  } catch (cause) {
    throw modelInvalid(modelsDir, `cannot read model file ${rel}`, { file: rel }, cause);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw modelInvalid(modelsDir, `model file ${rel} has sha256 ${actual}, manifest says ${sha256}`, {
      file: rel,
      expected: sha256,
      actual,
    });
  }
  return bytes;
}

export interface LoadRuntimeOptions {
  manifest: Manifest;
  modelsDir: string;
  runtime: RuntimeName;
  /** `int8` loads `manifest.files.int8` (onnx only). @defaultValue 'fp32' */
  precision?: Precision;
  /** ORT intra-op threads (ignored by tfjs). */
  threads: number;
  spinning: boolean;
  logger: Logger;
}

export async function loadRuntime(options: LoadRuntimeOptions): Promise<InferenceRuntime> {
  const { manifest, modelsDir } = options;
  // Each runtime's library is imported only when it is used.
  if (options.runtime === 'onnx') {
    const file = options.precision === 'int8' ? manifest.files.int8 : manifest.files.onnx;
    if (file === undefined) throw int8Missing(manifest);
    const model = await readVerified(modelsDir, file.path, file.sha256);
    const { createOnnxRuntime } = await import('./onnx-runtime.js');
    return createOnnxRuntime({ model, threads: options.threads, spinning: options.spinning });
  }
  const { createTfjsRuntime, tfjsShardPaths } = await import('./tfjs-runtime.js');
  const jsonRel = manifest.files.tfjs.path;
  const jsonBytes = await readVerified(modelsDir, jsonRel, manifest.files.tfjs.sha256);
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(Buffer.from(jsonBytes).toString('utf8'));
  } catch (cause) {
    throw modelInvalid(modelsDir, `${jsonRel} is not valid JSON`, { file: jsonRel }, cause);
  }
  const dir = posix.dirname(jsonRel.replaceAll('\\', '/'));
  const rel = (p: string): string => (dir === '.' ? p : posix.join(dir, p));
  const expected = new Map(manifest.files.tfjs.shards.map((s) => [rel(s.path), s.sha256]));
  const shards: Uint8Array[] = [];
  for (const p of tfjsShardPaths(modelJson)) {
    const shardRel = rel(p);
    const sha = expected.get(shardRel);
    if (sha === undefined) throw modelInvalid(modelsDir, `tfjs shard ${shardRel} is not listed in the manifest`);
    shards.push(await readVerified(modelsDir, shardRel, sha));
  }
  return createTfjsRuntime({ files: { modelJson, shards }, logger: options.logger });
}
