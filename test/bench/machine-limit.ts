/**
 * The machine-limit row of bench:embed: fp32 GFLOP/s of one large MatMul on ONNX Runtime's CPU
 * provider (MLAS sgemm, the same kernels and threads the fp32 ResNet50 runs on).
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { rng } from '../helpers/rng.js';

const { onnx } = onnxProto;

function matMulModel(k: number, n: number): Uint8Array {
  const r = rng(9);
  const b = Float32Array.from({ length: k * n }, () => r() - 0.5);
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'matmul',
        node: [{ name: 'mm', opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
        initializer: [{ name: 'b', dims: [k, n], dataType: FLOAT, rawData: new Uint8Array(b.buffer) }],
        input: [
          {
            name: 'a',
            type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'M' }, { dimValue: k }] } } },
          },
        ],
        output: [
          {
            name: 'c',
            type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'M' }, { dimValue: n }] } } },
          },
        ],
      },
    }),
  ).finish();
}

/** Best-of-`runs` GFLOP/s of an [m,k]×[k,n] fp32 MatMul with `threads` intra-op threads. */
export async function matMulGflops(threads: number, size = 1536, runs = 6): Promise<number> {
  const session = await ort.InferenceSession.create(matMulModel(size, size), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  try {
    const r = rng(10);
    const a = new ort.Tensor(
      'float32',
      Float32Array.from({ length: size * size }, () => r() - 0.5),
      [size, size],
    );
    let best = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const out = await session.run({ a });
      const secs = (performance.now() - t0) / 1000;
      for (const v of Object.values(out)) v.dispose();
      if (i > 0) best = Math.max(best, (2 * size ** 3) / secs / 1e9);
    }
    return best;
  } finally {
    await session.release();
  }
}
