/**
 * A small, typed ONNX graph builder. This is the only module that knows the ONNX protobuf
 * encoding (via `onnx-proto`); generators and converters describe graphs through it, so
 * a change of protobuf library touches one file.
 */
import onnxProto from 'onnx-proto';
import { checkInts, coerceKnownFloatAttrs } from './attribute-values.ts';
import type { AttrValue, Attrs, GraphBuilderOptions, NodeOptions } from './graph-types.ts';
import { elementCount, inferDType, littleEndianBytes, toTypedArray, type DType, type TensorData } from './tensor-data.ts';

export { float32ToFloat16, type DType, type TensorData } from './tensor-data.ts';
export type { AttrValue, Attrs, GraphBuilderOptions, NodeOptions, TensorInit } from './graph-types.ts';

const { onnx } = onnxProto;

/** ONNX IR version written to every model: ONNX 1.10, readable by every supported ONNX Runtime. */
export const IR_VERSION = 8;

const ONNX_DTYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
};

const AttrType = onnx.AttributeProto.AttributeType;
const textEncoder = new TextEncoder();

interface PendingNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Attrs;
}

interface ValueDecl {
  name: string;
  dtype: DType;
  dims?: (number | string)[];
}

/**
 * Builds one ONNX graph in topological order and serialises it to ModelProto bytes.
 * Names are checked as they are added, so a mistake fails where it is made rather than
 * as an opaque error from ONNX Runtime. Generated names depend only on the order of calls,
 * so the same calls always produce the same bytes.
 */
export class GraphBuilder {
  readonly opset: number;
  readonly producer: string;
  private readonly inputs: ValueDecl[] = [];
  private readonly outputs: ValueDecl[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly nodes: PendingNode[] = [];
  /** Every value name defined so far (graph inputs, initializers, node outputs). */
  private readonly values = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly counters = new Map<string, number>();
  private params = 0;

  constructor(opts: GraphBuilderOptions = {}) {
    this.opset = opts.opset ?? 13;
    this.producer = opts.producer ?? 'image-classifier';
  }

  /** Number of scalar values held by all initializers (the model's parameter count). */
  get parameterCount(): number {
    return this.params;
  }

  /** Number of nodes added so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Whether a value (graph input, initializer or node output) of this name exists. */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Declares a graph input; dims may be numbers or symbolic strings like 'N'. Returns the name. */
  input(name: string, dtype: DType, dims: (number | string)[]): string {
    this.define(name, `graph input`);
    this.inputs.push({ name, dtype, dims: [...dims] });
    return name;
  }

  /** Declares a graph output (shape optional). The value must exist by the time of {@link toBytes}. */
  output(name: string, dtype: DType, dims?: (number | string)[]): void {
    if (this.outputs.some((o) => o.name === name)) throw new Error(`GraphBuilder: output "${name}" declared twice`);
    this.outputs.push({ name, dtype, dims: dims ? [...dims] : undefined });
  }

  /**
   * Adds a constant initializer and returns its name.
   * Data: Float32Array for float32 (or float16, converted), BigInt64Array or integer number[] for int64,
   * Int32Array for int32, Uint8Array for uint8, Uint16Array for float16 bit patterns.
   * The dtype is inferred from the array type when omitted (number[] means int64).
   * Typed arrays are referenced, not copied: do not modify them afterwards.
   */
  initializer(name: string, dims: number[], data: TensorData, dtype?: DType): string {
    this.define(name, 'initializer');
    const tensor = encodeTensor(name, dims, data, dtype);
    this.initializers.push(tensor);
    this.params += elementCount(dims);
    return name;
  }

  /**
   * Adds a node and returns its output names. Output names are generated as `${opType}_${n}`
   * (with `_${i}` appended per output when there are several) unless given.
   * Attribute numbers are INT when integral, FLOAT otherwise; `{ float: 1 }` forces a float;
   * number[] are INTS (use `{ floats: [...] }` for floats). Exception: attributes that the ONNX spec
   * types as float for a common op (Gemm alpha/beta, BatchNormalization epsilon, LeakyRelu alpha, …, see
   * FLOAT_ATTRS) are always written as FLOAT, since an INT there is always rejected by ONNX Runtime.
   * `''` in inputs marks an omitted optional input.
   */
  node(opType: string, inputs: string[], attrs: Attrs = {}, opts: NodeOptions = {}): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.values.has(input)) {
        throw new Error(
          `GraphBuilder: ${opType} input "${input}" is not defined (no graph input, initializer or earlier node output has that name)`,
        );
      }
    }
    const wanted = opts.outputs ?? 1;
    const base = this.uniqueBase(opType, typeof wanted === 'number' ? wanted : 0);
    const outputs =
      typeof wanted === 'number'
        ? wanted === 1
          ? [base]
          : Array.from({ length: wanted }, (_, i) => `${base}_${i}`)
        : [...wanted];
    const name = opts.name ?? base;
    if (this.nodeNames.has(name)) throw new Error(`GraphBuilder: node name "${name}" used twice`);
    const typedAttrs = coerceKnownFloatAttrs(opType, attrs);
    // Validate attributes now so the error points at this call, not at toBytes().
    for (const [key, value] of Object.entries(typedAttrs)) encodeAttribute(key, value);
    const named = outputs.filter((o) => o !== '');
    const clash = named.find((o, i) => this.values.has(o) || named.indexOf(o) !== i);
    if (clash !== undefined) throw new Error(`GraphBuilder: ${opType} output "${clash}" is already defined`);
    for (const output of named) this.define(output, `${opType} output`);
    this.nodeNames.add(name);
    this.nodes.push({ opType, inputs: [...inputs], outputs, name, attrs: typedAttrs });
    return outputs;
  }

  /** Convenience for the common one-output node; returns the output name. */
  op(opType: string, inputs: string[], attrs: Attrs = {}, name?: string): string {
    return this.node(opType, inputs, attrs, name === undefined ? {} : { outputs: [name], name })[0]!;
  }

  /** A name of the form `${prefix}_${n}` that is not used yet; for callers naming their own initializers. */
  uniqueName(prefix: string): string {
    return this.uniqueBase(prefix, 0);
  }

  /** Serialises to ONNX ModelProto bytes (IR version 8, this builder's opset). */
  toBytes(graphName = 'graph'): Uint8Array {
    if (this.outputs.length === 0) throw new Error('GraphBuilder: the graph has no outputs');
    for (const o of this.outputs) {
      if (!this.values.has(o.name)) throw new Error(`GraphBuilder: output "${o.name}" is never produced`);
    }
    const model: onnxProto.onnx.IModelProto = {
      irVersion: IR_VERSION,
      producerName: this.producer,
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: graphName,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
        initializer: this.initializers,
        node: this.nodes.map((n) => ({
          opType: n.opType,
          name: n.name,
          input: n.inputs,
          output: n.outputs,
          attribute: Object.entries(n.attrs).map(([key, value]) => encodeAttribute(key, value)),
        })),
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }

  private define(name: string, what: string): void {
    if (name === '') throw new Error(`GraphBuilder: a ${what} needs a non-empty name`);
    if (this.values.has(name)) throw new Error(`GraphBuilder: ${what} "${name}" is already defined`);
    this.values.add(name);
  }

  /** First free `${prefix}_${n}` (per-prefix counter), also keeping `${base}_${i}` free for multi-output nodes. */
  private uniqueBase(prefix: string, extraOutputs: number): string {
    let n = this.counters.get(prefix) ?? 0;
    const taken = (base: string): boolean => {
      if (this.values.has(base) || this.nodeNames.has(base)) return true;
      for (let i = 0; i < extraOutputs; i++) if (this.values.has(`${base}_${i}`)) return true;
      return false;
    };
    while (taken(`${prefix}_${n}`)) n++;
    this.counters.set(prefix, n + 1);
    return `${prefix}_${n}`;
  }
}

function valueInfo(v: ValueDecl): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[v.dtype],
        shape: v.dims
          ? { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
          : undefined,
      },
    },
  };
}

function encodeTensor(name: string, dims: number[], data: TensorData, dtype?: DType): onnxProto.onnx.ITensorProto {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`GraphBuilder: tensor "${name}" has invalid dims [${dims}]`);
  }
  const type = dtype ?? inferDType(data);
  const typed = toTypedArray(name, data, type);
  const expected = elementCount(dims);
  if (typed.length !== expected) {
    throw new Error(`GraphBuilder: tensor "${name}" has ${typed.length} values but dims [${dims}] need ${expected}`);
  }
  return { name, dims, dataType: ONNX_DTYPE[type], rawData: littleEndianBytes(typed) };
}

function encodeAttribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`GraphBuilder: attribute "${name}" is ${value}; use { float: ... }`);
    return Number.isInteger(value) ? { name, type: AttrType.INT, i: value } : { name, type: AttrType.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: textEncoder.encode(value) };
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: checkInts(name, value) };
  if ('float' in value) return { name, type: AttrType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttrType.FLOATS, floats: [...value.floats] };
  if ('ints' in value) return { name, type: AttrType.INTS, ints: checkInts(name, value.ints) };
  if ('strings' in value) {
    return { name, type: AttrType.STRINGS, strings: value.strings.map((s) => textEncoder.encode(s)) };
  }
  if ('tensor' in value) {
    const t = value.tensor;
    return { name, type: AttrType.TENSOR, t: encodeTensor(name, t.dims, t.data, t.dtype) };
  }
  throw new Error(`GraphBuilder: attribute "${name}" has an unsupported value ${JSON.stringify(value)}`);
}

/** What {@link summariseOnnx} reports about a serialised model. */
export interface OnnxSummary {
  irVersion: number;
  /** Default-domain opset. */
  opset: number;
  producer: string;
  graphName: string;
  inputs: string[];
  outputs: string[];
  nodeCount: number;
  /** Scalar values held by all initializers. */
  parameterCount: number;
  /** Node count per op type, e.g. `{ Conv: 53, Relu: 49 }`. */
  opTypes: Record<string, number>;
}

/** Decodes ModelProto bytes far enough to describe them (for tests, `models` listings, sanity checks). */
export function summariseOnnx(bytes: Uint8Array): OnnxSummary {
  const model = onnx.ModelProto.decode(bytes);
  if (!model.graph) throw new Error('not an ONNX model: no graph');
  // Decoded messages are class instances: repeated fields default to [] and strings to ''.
  const graph = model.graph as onnxProto.onnx.GraphProto;
  const node = graph.node as onnxProto.onnx.NodeProto[];
  const initializer = graph.initializer as onnxProto.onnx.TensorProto[];
  const initializerNames = new Set(initializer.map((t) => t.name));
  const opTypes: Record<string, number> = {};
  for (const n of node) opTypes[n.opType] = (opTypes[n.opType] ?? 0) + 1;
  return {
    irVersion: Number(model.irVersion),
    opset: Number(model.opsetImport.find((o) => (o.domain ?? '') === '')?.version ?? 0),
    producer: model.producerName,
    graphName: graph.name,
    // Old exporters list initializers among the inputs too; those are not inputs to feed.
    inputs: (graph.input as onnxProto.onnx.ValueInfoProto[])
      .map((v) => v.name)
      .filter((name) => !initializerNames.has(name)),
    outputs: (graph.output as onnxProto.onnx.ValueInfoProto[]).map((v) => v.name),
    nodeCount: node.length,
    parameterCount: initializer.reduce((sum, t) => sum + t.dims.reduce<number>((a, d) => a * Number(d), 1), 0),
    opTypes,
  };
}
