/**
 * ONNX export of Keras ResNet50 notop + GlobalMaxPool + L2 norm, batch norm folded into convs.
 * Input `input` float32 [N,224,224,3] NHWC (caffe-preprocessed); output `embedding` [N,2048].
 */
import onnxProto from 'onnx-proto';
import {
  BLOCKS,
  BN_EPSILON_CURRENT,
  type ConvUnitSpec,
  EMBEDDING_DIMENSION,
  MODEL_ID,
  STEM,
} from '../weights/layout.js';
import type { ResNet50Weights } from '../weights/types.js';
import { foldUnit } from './fold.js';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;

export const ONNX_OPSET = 13;
export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'embedding';
/** Guard against division by zero in the L2 normalisation. */
export const L2_EPSILON = 1e-12;

const AttrType = onnx.AttributeProto.AttributeType;

function ints(name: string, values: number[]): IAttributeProto {
  return { name, type: AttrType.INTS, ints: values };
}

function int(name: string, value: number): IAttributeProto {
  return { name, type: AttrType.INT, i: value };
}

function floatTensor(name: string, dims: number[], data: Float32Array): ITensorProto {
  // Raw little-endian float32 (x86/ARM hosts are little-endian; checked below).
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

export interface OnnxExportOptions {
  /**
   * Batch-norm epsilon folded into the convs.
   * @defaultValue {@link BN_EPSILON_CURRENT} (1.001e-5); legacy-named weights need 1e-3.
   */
  batchNormEpsilon?: number;
  /** Free-form provenance strings stored as model metadata. */
  metadata?: Record<string, string>;
}

/** Builds the ONNX ModelProto bytes for the given (unfolded) weights. */
export function buildOnnxModel(weights: ResNet50Weights, options: OnnxExportOptions = {}): Uint8Array {
  const epsilon = options.batchNormEpsilon ?? BN_EPSILON_CURRENT;
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('ONNX export requires a little-endian host');
  }
  const nodes: INodeProto[] = [];
  const initializers: ITensorProto[] = [];

  const conv = (u: ConvUnitSpec, input: string): string => {
    const w = weights.units.get(u.id);
    if (w === undefined) throw new Error(`ONNX export: no weights for ${u.id}`);
    const folded = foldUnit(u, w, epsilon);
    const wName = `${u.id}_conv/kernel`;
    const bName = `${u.id}_conv/bias`;
    initializers.push(floatTensor(wName, [u.outChannels, u.inChannels, u.kernel, u.kernel], folded.kernelOihw));
    initializers.push(floatTensor(bName, [u.outChannels], folded.bias));
    const out = `${u.id}_conv`;
    nodes.push({
      name: out,
      opType: 'Conv',
      input: [input, wName, bName],
      output: [out],
      attribute: [
        ints('kernel_shape', [u.kernel, u.kernel]),
        ints('strides', [u.stride, u.stride]),
        ints('pads', [u.pad, u.pad, u.pad, u.pad]),
        ints('dilations', [1, 1]),
        int('group', 1),
      ],
    });
    return out;
  };
  const relu = (input: string, name: string): string => {
    nodes.push({ name, opType: 'Relu', input: [input], output: [name] });
    return name;
  };

  nodes.push({
    name: 'to_nchw',
    opType: 'Transpose',
    input: [ONNX_INPUT_NAME],
    output: ['input_nchw'],
    attribute: [ints('perm', [0, 3, 1, 2])],
  });
  let x = relu(conv(STEM, 'input_nchw'), 'conv1_relu');
  // Keras: ZeroPadding2D(1) + MaxPool 3x3/2 valid. Inputs are >= 0 after ReLU, so padding
  // with zeros and ONNX's implicit -inf padding give the same maxima.
  nodes.push({
    name: 'pool1_pool',
    opType: 'MaxPool',
    input: [x],
    output: ['pool1_pool'],
    attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])],
  });
  x = 'pool1_pool';
  for (const b of BLOCKS) {
    const shortcut = b.shortcut === undefined ? x : conv(b.shortcut, x);
    let h = relu(conv(b.reduce, x), `${b.prefix}_1_relu`);
    h = relu(conv(b.spatial, h), `${b.prefix}_2_relu`);
    h = conv(b.expand, h);
    const add = `${b.prefix}_add`;
    nodes.push({ name: add, opType: 'Add', input: [shortcut, h], output: [add] });
    x = relu(add, `${b.prefix}_out`);
  }
  nodes.push({ name: 'gmp', opType: 'GlobalMaxPool', input: [x], output: ['gmp'] });
  nodes.push({
    name: 'features',
    opType: 'Flatten',
    input: ['gmp'],
    output: ['features'],
    attribute: [int('axis', 1)],
  });
  nodes.push({
    name: 'l2',
    opType: 'ReduceL2',
    input: ['features'],
    output: ['l2'],
    attribute: [ints('axes', [1]), int('keepdims', 1)],
  });
  initializers.push(floatTensor('l2_epsilon', [], new Float32Array([L2_EPSILON])));
  nodes.push({ name: 'l2_safe', opType: 'Max', input: ['l2', 'l2_epsilon'], output: ['l2_safe'] });
  nodes.push({ name: ONNX_OUTPUT_NAME, opType: 'Div', input: ['features', 'l2_safe'], output: [ONNX_OUTPUT_NAME] });

  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'lookalike',
    producerVersion: '1',
    docString: `${MODEL_ID}: Keras ResNet50 notop, BN folded, GlobalMaxPool, L2 norm`,
    metadataProps: Object.entries({
      model: MODEL_ID,
      batchNormEpsilon: String(epsilon),
      ...(options.metadata ?? {}),
    }).map(([key, value]) => ({
      key,
      value,
    })),
    graph: {
      name: MODEL_ID,
      node: nodes,
      initializer: initializers,
      input: [
        {
          name: ONNX_INPUT_NAME,
          type: {
            tensorType: {
              elemType: FLOAT,
              shape: { dim: [{ dimParam: 'N' }, { dimValue: 224 }, { dimValue: 224 }, { dimValue: 3 }] },
            },
          },
        },
      ],
      output: [
        {
          name: ONNX_OUTPUT_NAME,
          type: {
            tensorType: {
              elemType: FLOAT,
              shape: { dim: [{ dimParam: 'N' }, { dimValue: EMBEDDING_DIMENSION }] },
            },
          },
        },
      ],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
