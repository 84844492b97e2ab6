/**
 * The fp32 ResNet50 graph written by convert/onnx.ts, read back with onnx-proto, and what
 * quantization does to each of its nodes (the plan): which activation tensors get a uint8
 * QuantizeLinear/DequantizeLinear pair, which ReLUs fold into them, and the fp32 tail.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IModelProto = onnxProto.onnx.IModelProto;

/** A decoded fp32 model with its float initializers by name. */
export interface Fp32Graph {
  /** The model file's bytes. */
  bytes: Uint8Array;
  model: onnxProto.onnx.ModelProto;
  nodes: INodeProto[];
  initializers: Map<string, { dims: number[]; data: Float32Array }>;
}

/** Decodes model bytes and copies every float initializer out (aligned). */
export function readFp32Graph(bytes: Uint8Array): Fp32Graph {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (graph === null || graph === undefined) throw new Error('ONNX model has no graph');
  const initializers = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of graph.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const raw = t.rawData;
    let data: Float32Array;
    if (raw !== undefined && raw !== null && raw.length > 0) {
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      data = new Float32Array(copy.buffer);
    } else data = Float32Array.from(t.floatData ?? []);
    initializers.set(String(t.name), { dims: (t.dims ?? []).map(Number), data });
  }
  return { bytes, model, nodes: [...(graph.node ?? [])], initializers };
}

/** How one activation tensor is quantized. */
export interface QuantizedTensor {
  /** Calibrated from its own values (else it copies `inherits`'s parameters: MaxPool). */
  inherits?: string;
  /** A ReLU folded in: its range starts at 0, so zero point 0 clamps negatives. */
  relu: boolean;
}

export interface QuantizationPlan {
  /** Activation tensors (by the name they have in the fp32 graph) that get a Q/DQ pair. */
  tensors: Map<string, QuantizedTensor>;
  /** ReLU nodes folded into the quantization of their input: dropped from the int8 graph. */
  foldedRelus: Map<string, string>;
  /** Nodes kept in fp32 with fp32 weights: the last block's expand conv, add and ReLU. */
  fp32Nodes: Set<string>;
}

function consumersOf(nodes: INodeProto[]): Map<string, INodeProto[]> {
  const map = new Map<string, INodeProto[]>();
  for (const n of nodes) {
    for (const i of n.input ?? []) {
      const list = map.get(i) ?? [];
      list.push(n);
      map.set(i, list);
    }
  }
  return map;
}

/**
 * Plans the int8 graph. Quantized: the NCHW input, every Conv and Add output (with a following
 * ReLU folded in), MaxPool (same parameters as its input). fp32: the last block's expand conv,
 * its Add and ReLU (the tensor GlobalMaxPool reads: clipping there would clip the embedding's
 * largest values), GlobalMaxPool, Flatten and the L2 normalisation.
 */
export function planQuantization(g: Fp32Graph): QuantizationPlan {
  const consumers = consumersOf(g.nodes);
  const producer = new Map<string, INodeProto>();
  for (const n of g.nodes) for (const o of n.output ?? []) producer.set(o, n);

  const fp32Nodes = new Set<string>();
  const gmp = g.nodes.find((n) => n.opType === 'GlobalMaxPool');
  if (gmp === undefined) throw new Error('ONNX model has no GlobalMaxPool');
  const relu = producer.get(String(gmp.input?.[0]));
  const add = relu?.opType === 'Relu' ? producer.get(String(relu.input?.[0])) : undefined;
  if (relu === undefined || add?.opType !== 'Add') throw new Error('GlobalMaxPool does not follow Add + Relu');
  fp32Nodes.add(String(relu.name));
  fp32Nodes.add(String(add.name));
  for (const i of add.input ?? []) {
    const p = producer.get(i);
    if (p?.opType === 'Conv' && (consumers.get(i) ?? []).length === 1) fp32Nodes.add(String(p.name));
  }

  const tensors = new Map<string, QuantizedTensor>();
  const foldedRelus = new Map<string, string>();
  for (const n of g.nodes) {
    const name = String(n.name);
    if (fp32Nodes.has(name)) continue;
    const out = String(n.output?.[0]);
    switch (n.opType) {
      case 'Transpose':
        tensors.set(out, { relu: false });
        break;
      case 'Conv':
      case 'Add': {
        const next = consumers.get(out) ?? [];
        const r = next.length === 1 && next[0]?.opType === 'Relu' ? next[0] : undefined;
        if (r !== undefined && !fp32Nodes.has(String(r.name))) {
          foldedRelus.set(String(r.name), out);
          tensors.set(String(r.output?.[0]), { relu: true });
        } else tensors.set(out, { relu: false });
        break;
      }
      case 'MaxPool':
        tensors.set(out, { inherits: String(n.input?.[0]), relu: false });
        break;
      default:
        break;
    }
  }
  return { tensors, foldedRelus, fp32Nodes };
}

/** The tensors whose ranges calibration measures (those that do not inherit). */
export function calibratedTensors(plan: QuantizationPlan): string[] {
  return [...plan.tensors].filter(([, t]) => t.inherits === undefined).map(([name]) => name);
}

/** The fp32 model with `names` added as graph outputs, to read them during calibration. */
export function calibrationModel(g: Fp32Graph, names: readonly string[]): Uint8Array {
  const m = onnx.ModelProto.decode(g.bytes);
  const graph = m.graph as onnxProto.onnx.GraphProto;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  for (const name of names) {
    if (existing.has(name)) continue;
    graph.output.push(
      onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }),
    );
  }
  return onnx.ModelProto.encode(m).finish();
}
