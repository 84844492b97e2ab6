/**
 * The default runtime: onnxruntime-node (CPU execution provider) on `<modelsDir>/resnet50.onnx`.
 * One session; the embedder never runs two `run()` calls at once, so ORT's intra-op pool
 * (`threads`, ≤ cores) is the only source of parallelism inside inference.
 */
import { availableParallelism } from 'node:os';
import { LookalikeError } from '@lookalike/core';
import * as ort from 'onnxruntime-node';
import { EMBEDDING_DIM, INPUT_LENGTH, INPUT_SIZE, type InferenceRuntime, normalizedRows } from './runtime.js';

export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'embedding';

export interface OnnxRuntimeOptions {
  /** The .onnx bytes (already read and checksummed by the caller). */
  model: Uint8Array;
  /** Intra-op threads; default: number of cores. */
  threads?: number;
  /** Let ORT's pool threads spin while waiting for work (faster, burns CPU). Default false. */
  spinning?: boolean;
}

export async function createOnnxRuntime(options: OnnxRuntimeOptions): Promise<InferenceRuntime> {
  const threads = Math.max(1, options.threads ?? availableParallelism());
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(options.model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: true,
      extra: { session: { intra_op: { allow_spinning: options.spinning === true ? '1' : '0' } } },
    });
  } catch (cause) {
    throw new LookalikeError(
      'MODEL_INVALID',
      `onnxruntime could not load the ONNX model: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT)) {
    const found = { inputs: session.inputNames, outputs: session.outputNames };
    await session.release().catch(() => {});
    throw new LookalikeError(
      'MODEL_INVALID',
      `ONNX model must have input "${ONNX_INPUT}" and output "${ONNX_OUTPUT}", found ${JSON.stringify(found)}`,
      { details: found },
    );
  }
  let disposed = false;

  return {
    name: 'onnx',
    detail: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common} (cpu, ${threads} intra-op threads)`,
    async run(batch: Float32Array, n: number): Promise<Float32Array[]> {
      if (disposed) throw new LookalikeError('INTERNAL', 'onnx runtime used after dispose');
      const view = batch.length === n * INPUT_LENGTH ? batch : batch.subarray(0, n * INPUT_LENGTH);
      const input = new ort.Tensor('float32', view, [n, INPUT_SIZE, INPUT_SIZE, 3]);
      let outputs: ort.InferenceSession.OnnxValueMapType;
      try {
        outputs = await session.run({ [ONNX_INPUT]: input }, [ONNX_OUTPUT]);
      } catch (cause) {
        throw new LookalikeError('INTERNAL', `onnxruntime inference failed: ${(cause as Error).message}`, { cause });
      }
      const out = outputs[ONNX_OUTPUT];
      try {
        if (
          out === undefined ||
          out.type !== 'float32' ||
          out.dims.length !== 2 ||
          out.dims[0] !== n ||
          out.dims[1] !== EMBEDDING_DIM
        ) {
          throw new LookalikeError(
            'MODEL_INVALID',
            `ONNX output "${ONNX_OUTPUT}" should be float32 [${n},${EMBEDDING_DIM}], got ${out?.type} [${out?.dims.join(',')}]`,
          );
        }
        // Each row is copied once out of ORT's buffer (freed below) into its own buffer, and
        // re-normalised in float64 on the way (idempotent up to rounding).
        return normalizedRows(out.data as Float32Array, n);
      } finally {
        for (const v of Object.values(outputs)) v.dispose();
      }
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}
