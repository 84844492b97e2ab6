/**
 * Writes the int8 model: the fp32 graph with QuantizeLinear/DequantizeLinear (QDQ) pairs on the
 * planned activations, int8 per-channel weights and int32 biases behind DequantizeLinear. ONNX
 * Runtime's CPU provider fuses each DQ → Conv → Q group into a QLinearConv (and Add into
 * QLinearAdd, MaxPool into a uint8 MaxPool), which run on MLAS's u8×s8 integer kernels.
 */
import onnxProto from 'onnx-proto';
import type { Fp32Graph, INodeProto, ITensorProto, QuantizationPlan } from './graph.js';
import { type ActivationParams, quantizeBias, quantizeKernel } from './qparams.js';

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function tensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): ITensorProto {
  return { name, dims, dataType, rawData: bytesOf(data) };
}

export interface QdqOptions {
  /** Activation parameters of every planned tensor that does not inherit. */
  params: ReadonlyMap<string, ActivationParams>;
  /** Largest weight magnitude in integer steps (127 full int8, 64 AVX2-safe). */
  weightQmax: number;
  /** Extra model metadata. */
  metadata?: Record<string, string>;
}

/** Builds the int8 QDQ model bytes from the fp32 graph and the calibrated parameters. */
export function buildQdqModel(g: Fp32Graph, plan: QuantizationPlan, options: QdqOptions): Uint8Array {
  const nodes: INodeProto[] = [];
  const initializers: ITensorProto[] = [];
  const params = new Map<string, ActivationParams>();
  for (const [name, t] of plan.tensors) {
    const p = t.inherits === undefined ? options.params.get(name) : params.get(t.inherits);
    if (p === undefined) throw new Error(`int8 export: no quantization parameters for ${name}`);
    params.set(name, p);
    initializers.push(tensor(`${name}/scale`, [], DataType.FLOAT, new Float32Array([p.scale])));
    initializers.push(tensor(`${name}/zero_point`, [], DataType.UINT8, new Uint8Array([p.zeroPoint])));
  }
  const usedFloat = new Set<string>();

  /** A dedicated DequantizeLinear for one consumer of a quantized tensor. */
  const dequantized = (name: string, consumer: string): string => {
    if (!plan.tensors.has(name)) return name;
    const out = `${name}/dq/${consumer}`;
    nodes.push({
      name: out,
      opType: 'DequantizeLinear',
      input: [`${name}/q`, `${name}/scale`, `${name}/zero_point`],
      output: [out],
    });
    return out;
  };
  const quantize = (name: string): void => {
    nodes.push({
      name: `${name}/q`,
      opType: 'QuantizeLinear',
      input: [name, `${name}/scale`, `${name}/zero_point`],
      output: [`${name}/q`],
    });
  };
  const floatInit = (name: string): { dims: number[]; data: Float32Array } => {
    const t = g.initializers.get(name);
    if (t === undefined) throw new Error(`int8 export: no initializer ${name}`);
    return t;
  };

  for (const n of g.nodes) {
    const name = String(n.name);
    if (plan.foldedRelus.has(name)) continue;
    const inputs = [...(n.input ?? [])];
    let outputs = [...(n.output ?? [])];
    // A Conv/Add whose ReLU is folded writes straight to the ReLU's output name.
    const folded = [...plan.foldedRelus].find(([, src]) => src === outputs[0]);
    if (folded !== undefined) {
      const relu = g.nodes.find((r) => r.name === folded[0]);
      outputs = [String(relu?.output?.[0])];
    }
    if (n.opType === 'Conv' && !plan.fp32Nodes.has(name)) {
      const [x, w, b] = inputs as [string, string, string];
      const xParams = params.get(x);
      if (xParams === undefined) throw new Error(`int8 export: conv ${name} input ${x} is not quantized`);
      const kernel = floatInit(w);
      const bias = floatInit(b);
      const out = kernel.dims[0] as number;
      const qw = quantizeKernel(kernel.data, out, options.weightQmax);
      const qb = quantizeBias(bias.data, xParams.scale, qw.scales);
      initializers.push(tensor(`${w}/q`, kernel.dims, DataType.INT8, qw.values));
      initializers.push(tensor(`${w}/scale`, [out], DataType.FLOAT, qw.scales));
      initializers.push(tensor(`${w}/zero_point`, [out], DataType.INT8, new Int8Array(out)));
      initializers.push(tensor(`${b}/q`, [out], DataType.INT32, qb.values));
      initializers.push(tensor(`${b}/scale`, [out], DataType.FLOAT, qb.scales));
      initializers.push(tensor(`${b}/zero_point`, [out], DataType.INT32, new Int32Array(out)));
      const axis0 = [{ name: 'axis', type: AttrType.INT, i: 0 }];
      nodes.push({
        name: `${w}/dq`,
        opType: 'DequantizeLinear',
        input: [`${w}/q`, `${w}/scale`, `${w}/zero_point`],
        output: [`${w}/dq`],
        attribute: axis0,
      });
      nodes.push({
        name: `${b}/dq`,
        opType: 'DequantizeLinear',
        input: [`${b}/q`, `${b}/scale`, `${b}/zero_point`],
        output: [`${b}/dq`],
        attribute: axis0,
      });
      nodes.push({ ...n, input: [dequantized(x, name), `${w}/dq`, `${b}/dq`], output: outputs });
    } else {
      for (const i of inputs) if (g.initializers.has(i)) usedFloat.add(i);
      nodes.push({ ...n, input: inputs.map((i) => dequantized(i, name)), output: outputs });
    }
    const q = outputs[0];
    if (q !== undefined && plan.tensors.has(q)) quantize(q);
  }
  for (const name of usedFloat) {
    const t = floatInit(name);
    initializers.push(tensor(name, t.dims, DataType.FLOAT, t.data));
  }

  const src = g.model;
  const graph = src.graph as onnxProto.onnx.GraphProto;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: src.irVersion,
    opsetImport: src.opsetImport,
    producerName: 'lookalike',
    producerVersion: '1',
    docString: `${src.docString}; int8 QDQ (activations uint8 per tensor, weights int8 per channel)`,
    metadataProps: [
      ...(src.metadataProps ?? []),
      ...Object.entries({ precision: 'int8', ...(options.metadata ?? {}) }).map(([key, value]) => ({ key, value })),
    ],
    graph: {
      name: graph.name,
      node: nodes,
      initializer: initializers,
      input: graph.input,
      output: graph.output,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
