/**
 * One converter per TensorFlow op found in TF.js *graph* models (the frozen-graph format nsfwjs
 * uses for MobileNetV2Mid), including the grappler-fused ops (`_FusedConv2D`,
 * `FusedDepthwiseConv2dNative`, `_FusedMatMul`) the TF.js converter emits.
 */
import { fmt, type OnnxEmitter, type TensorRef } from './onnx-emitter.ts';
import type { NodeAttrs } from './tf-node-attrs.ts';
import { paddedOutputSize, tfSpatialPadding, type Pads2d } from './tf-padding.ts';
import type { TfNodeDef } from './tfjs-model-json.ts';
import { depthwiseToOnnx, hwioToOihw } from './weight-layout.ts';

/** A node output: a runtime tensor, or a constant (weights, axes, scalars) known at conversion time. */
export type GraphValue =
  | { kind: 'tensor'; ref: TensorRef }
  | { kind: 'const'; name: string; shape: number[]; values: Float32Array | Int32Array };

export interface OpContext {
  em: OnnxEmitter;
  node: TfNodeDef;
  attrs: NodeAttrs;
}

export type OpConverter = (inputs: GraphValue[], ctx: OpContext) => GraphValue;

const tensor = (ref: TensorRef): GraphValue => ({ kind: 'tensor', ref });

function tensorArg(inputs: GraphValue[], i: number, ctx: OpContext): TensorRef {
  const v = inputs[i];
  if (v?.kind !== 'tensor') throw ctx.attrs.fail(`input ${i} should be a computed tensor, got ${v ? 'a constant' : 'nothing'}`);
  return v.ref;
}

function constArg(inputs: GraphValue[], i: number, ctx: OpContext): Extract<GraphValue, { kind: 'const' }> {
  const v = inputs[i];
  if (v?.kind !== 'const') throw ctx.attrs.fail(`input ${i} should be a constant (weights), got ${v ? 'a computed tensor' : 'nothing'}`);
  return v;
}

/** Short, readable ONNX names from long TF scopes (`…/expanded_conv_3/depthwise/depthwise` → `expanded_conv_3_depthwise`). */
function hintOf(node: TfNodeDef): string {
  const parts = node.name.split('/').filter((p) => !/^(StatefulPartitionedCall|Func|predict|keras_layer|sequential)$/.test(p));
  return parts.slice(-3).join('_') || node.op;
}

/** TF padding of an image op, including EXPLICIT (explicit_paddings in NHWC order). */
function imagePadding(
  ctx: OpContext,
  inHW: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): { pads: Pads2d; outHW: [number, number] } {
  const mode = ctx.attrs.str('padding');
  if (mode === 'SAME' || mode === 'VALID') {
    return tfSpatialPadding(mode === 'SAME' ? 'same' : 'valid', inHW, kernel, strides, dilations);
  }
  if (mode === 'EXPLICIT') {
    const e = ctx.attrs.intList('explicit_paddings');
    const pads = { top: e[2]!, bottom: e[3]!, left: e[4]!, right: e[5]! };
    return {
      pads,
      outHW: [
        paddedOutputSize(inHW[0], pads.top, pads.bottom, kernel[0], strides[0], dilations[0]),
        paddedOutputSize(inHW[1], pads.left, pads.right, kernel[1], strides[1], dilations[1]),
      ],
    };
  }
  throw ctx.attrs.fail(`padding ${mode} is not supported`);
}

function staticHW(t: TensorRef, ctx: OpContext): [number, number, number] {
  const [, h, w, c] = t.shape;
  if (t.shape.length !== 4 || h === null || w === null || c === null) {
    throw ctx.attrs.fail(`needs a static NHWC input to compute TF padding, got [${fmt(t.shape)}]`);
  }
  return [h!, w!, c!];
}

/** Applies the activation a fused op carries after its BiasAdd. */
function fusedActivation(t: TensorRef, fused: string[], ctx: OpContext): TensorRef {
  if (fused[0] !== 'BiasAdd') throw ctx.attrs.fail(`fused_ops [${fused}] are not supported (only BiasAdd + activation)`);
  const act = fused[1];
  if (fused.length > 2) throw ctx.attrs.fail(`fused_ops [${fused}] are not supported`);
  const site = { layer: ctx.node.name, className: ctx.node.op };
  switch (act) {
    case undefined:
      return t;
    case 'Relu':
      return ctx.em.activation(t, 'relu', site);
    case 'Relu6':
      return ctx.em.activation(t, 'relu6', site);
    case 'Elu':
      return ctx.em.activation(t, 'elu', site);
    case 'Sigmoid':
      return ctx.em.activation(t, 'sigmoid', site);
    case 'Tanh':
      return ctx.em.activation(t, 'tanh', site);
    case 'LeakyRelu': {
      const alpha = ctx.attrs.float('leakyrelu_alpha', 0.2);
      return { ...t, name: ctx.em.op('LeakyRelu', [t.name], { alpha: { float: alpha } }, `${hintOf(ctx.node)}_leaky`) };
    }
    default:
      throw ctx.attrs.fail(`fused activation ${act} is not supported`);
  }
}

function conv(depthwise: boolean, fused: boolean): OpConverter {
  return (inputs, ctx) => {
    ctx.attrs.requireNhwc();
    const x = ctx.em.toNchw(tensorArg(inputs, 0, ctx));
    const [h, w, cin] = staticHW(x, ctx);
    const filter = constArg(inputs, 1, ctx);
    const [kh, kw, fin, fout] = filter.shape as [number, number, number, number];
    const s = ctx.attrs.intList('strides');
    const d = ctx.attrs.intList('dilations', [1, 1, 1, 1]);
    const strides: [number, number] = [s[1]!, s[2]!];
    const dilations: [number, number] = [d[1]!, d[2]!];
    const { pads, outHW } = imagePadding(ctx, [h, w], [kh, kw], strides, dilations);
    const outChannels = depthwise ? fin * fout : fout;
    const fits = depthwise ? fin === cin : cin % fin === 0;
    if (!fits) {
      throw ctx.attrs.fail(`filter [${filter.shape}] does not fit input channels ${cin}`);
    }
    const fusedOps = fused ? ctx.attrs.strList('fused_ops') : [];
    let bias: Float32Array | undefined;
    if (fusedOps[0] === 'BiasAdd') bias = Float32Array.from(constArg(inputs, 2, ctx).values);
    const out = ctx.em.conv(x, {
      weight: depthwise ? depthwiseToOnnx(filter.values, filter.shape) : hwioToOihw(filter.values, filter.shape),
      weightDims: depthwise ? [outChannels, 1, kh, kw] : [fout, fin, kh, kw],
      bias,
      strides,
      dilations,
      pads,
      group: depthwise ? cin : cin / fin,
      outShape: [x.shape[0]!, outHW[0], outHW[1], outChannels],
      hint: hintOf(ctx.node),
    });
    return tensor(fused ? fusedActivation(out, fusedOps, ctx) : out);
  };
}

function matMul(fused: boolean): OpConverter {
  return (inputs, ctx) => {
    const x = ctx.em.toTf(tensorArg(inputs, 0, ctx));
    const wConst = constArg(inputs, 1, ctx);
    if (ctx.attrs.bool('transpose_a', false)) throw ctx.attrs.fail('transpose_a is not supported');
    const transB = ctx.attrs.bool('transpose_b', false);
    const units = wConst.shape[transB ? 0 : 1]!;
    const gemmInputs = [x.name, ctx.em.float(`${hintOf(ctx.node)}_W`, wConst.shape, Float32Array.from(wConst.values))];
    const fusedOps = fused ? ctx.attrs.strList('fused_ops') : [];
    if (fusedOps[0] === 'BiasAdd') {
      gemmInputs.push(ctx.em.float(`${hintOf(ctx.node)}_B`, [units], Float32Array.from(constArg(inputs, 2, ctx).values)));
    }
    const name = ctx.em.op('Gemm', gemmInputs, transB ? { transB: 1 } : {}, hintOf(ctx.node));
    const out: TensorRef = { name, shape: [x.shape[0]!, units], layout: 'tf' };
    return tensor(fused ? fusedActivation(out, fusedOps, ctx) : out);
  };
}

/**
 * Elementwise binary op. A constant operand becomes an initializer shaped to broadcast the way
 * TF's would: scalars as scalars, a per-channel vector along the channel axis of the layout used.
 */
function binary(onnxOp: 'Add' | 'Sub' | 'Mul'): OpConverter {
  return (inputs, ctx) => {
    if (inputs.length !== 2) throw ctx.attrs.fail(`expects 2 inputs, got ${inputs.length}`);
    const [a, b] = inputs as [GraphValue, GraphValue];
    if (a.kind === 'const' && b.kind === 'const') throw ctx.attrs.fail('both inputs are constants (constant folding is not supported)');
    if (a.kind === 'tensor' && b.kind === 'tensor') {
      const rank = a.ref.shape.length;
      const [x, y] = [a.ref, b.ref].map((t) => (rank === 4 ? ctx.em.toNchw(t) : ctx.em.toTf(t))) as [TensorRef, TensorRef];
      if (x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) {
        throw ctx.attrs.fail(`inputs have different shapes [${fmt(x.shape)}] and [${fmt(y.shape)}] (broadcasting is not supported)`);
      }
      return tensor({ name: ctx.em.op(onnxOp, [x.name, y.name], {}, hintOf(ctx.node)), shape: x.shape, layout: x.layout });
    }
    const t = ctx.em.materialize(a.kind === 'tensor' ? a.ref : (b as Extract<GraphValue, { kind: 'tensor' }>).ref);
    const c = (a.kind === 'const' ? a : b) as Extract<GraphValue, { kind: 'const' }>;
    let dims: number[];
    if (c.values.length === 1) dims = [];
    else if (c.shape.length === 1 && c.shape[0] === t.shape[t.shape.length - 1]) dims = t.layout === 'nchw' ? [c.values.length, 1, 1] : [c.values.length];
    else throw ctx.attrs.fail(`constant of shape [${c.shape}] does not broadcast onto [${fmt(t.shape)}] as a scalar or per-channel vector`);
    const cName = ctx.em.float(`${hintOf(ctx.node)}_const`, dims, Float32Array.from(c.values));
    const operands = a.kind === 'const' ? [cName, t.name] : [t.name, cName];
    return tensor({ name: ctx.em.op(onnxOp, operands, {}, hintOf(ctx.node)), shape: t.shape, layout: t.layout });
  };
}

function activationOp(name: string): OpConverter {
  return (inputs, ctx) => tensor(ctx.em.activation(tensorArg(inputs, 0, ctx), name, { layer: ctx.node.name, className: ctx.node.op }));
}

function pool(kind: 'MaxPool' | 'AveragePool'): OpConverter {
  return (inputs, ctx) => {
    ctx.attrs.requireNhwc();
    const x = ctx.em.toNchw(tensorArg(inputs, 0, ctx));
    const [h, w, c] = staticHW(x, ctx);
    const k = ctx.attrs.intList('ksize');
    const s = ctx.attrs.intList('strides');
    const kernel: [number, number] = [k[1]!, k[2]!];
    const strides: [number, number] = [s[1]!, s[2]!];
    const { pads, outHW } = imagePadding(ctx, [h, w], kernel, strides, [1, 1]);
    const attrs: Record<string, number | number[]> = { kernel_shape: kernel, strides, pads: [pads.top, pads.left, pads.bottom, pads.right] };
    if (kind === 'AveragePool') attrs['count_include_pad'] = 0;
    const name = ctx.em.op(kind, [x.name], attrs, hintOf(ctx.node));
    return tensor({ name, shape: [x.shape[0]!, outHW[0], outHW[1], c], layout: 'nchw' });
  };
}

/** Only the spatial mean (global average pooling) is supported, which is what classifiers use. */
const mean: OpConverter = (inputs, ctx) => {
  const x = ctx.em.toNchw(tensorArg(inputs, 0, ctx));
  const axes = [...constArg(inputs, 1, ctx).values].map((a) => (a < 0 ? a + 4 : a)).sort();
  if (axes.join(',') !== '1,2') throw ctx.attrs.fail(`Mean over axes [${axes}] is not supported (only [1, 2])`);
  const pooled = ctx.em.op('GlobalAveragePool', [x.name], {}, hintOf(ctx.node));
  const c = x.shape[3]!;
  if (ctx.attrs.bool('keep_dims', false)) return tensor({ name: pooled, shape: [x.shape[0]!, 1, 1, c], layout: 'nchw' });
  return tensor({ name: ctx.em.op('Flatten', [pooled], { axis: 1 }, `${hintOf(ctx.node)}_flat`), shape: [x.shape[0]!, c], layout: 'tf' });
};

const squeeze: OpConverter = (inputs, ctx) => {
  let x = ctx.em.materialize(tensorArg(inputs, 0, ctx));
  const rank = x.shape.length;
  const dims = ctx.attrs.intList('squeeze_dims', []).map((a) => (a < 0 ? a + rank : a));
  if (dims.length === 0) throw ctx.attrs.fail('squeezing all unit dims (no squeeze_dims) is not supported');
  // Squeezing H and W of an NCHW map leaves [N, C], the same order TF has; anything else squeezes in TF order.
  const spatial = x.layout === 'nchw' && [...dims].sort().join(',') === '1,2';
  if (!spatial) x = ctx.em.toTf(x);
  const onnxAxes = dims.map((a) => ctx.em.onnxAxis(x, a));
  const name = ctx.em.op('Squeeze', [x.name, ctx.em.int64(`${hintOf(ctx.node)}_axes`, onnxAxes)], {}, hintOf(ctx.node));
  return tensor({ name, shape: x.shape.filter((_, i) => !dims.includes(i)), layout: 'tf' });
};

const softmax: OpConverter = (inputs, ctx) => tensor(ctx.em.softmax(tensorArg(inputs, 0, ctx), -1, hintOf(ctx.node)));

const biasAdd: OpConverter = (inputs, ctx) => {
  ctx.attrs.requireNhwc();
  return binary('Add')(inputs, ctx);
};

const concatV2: OpConverter = (inputs, ctx) => {
  const axisConst = constArg(inputs, inputs.length - 1, ctx);
  const parts = inputs.slice(0, -1).map((_, i) => tensorArg(inputs, i, ctx));
  const rank = parts[0]!.shape.length;
  const xs = parts.map((t) => (rank === 4 ? ctx.em.toNchw(t) : ctx.em.toTf(t)));
  const tfAxis = axisConst.values[0]! < 0 ? axisConst.values[0]! + rank : axisConst.values[0]!;
  const shape = [...xs[0]!.shape];
  shape[tfAxis] = xs.every((t) => t.shape[tfAxis] !== null) ? xs.reduce((s, t) => s + t.shape[tfAxis]!, 0) : null;
  const name = ctx.em.op('Concat', xs.map((t) => t.name), { axis: ctx.em.onnxAxis(xs[0]!, tfAxis) }, hintOf(ctx.node));
  return tensor({ name, shape, layout: xs[0]!.layout });
};

const identity: OpConverter = (inputs, ctx) => {
  if (!inputs[0]) throw ctx.attrs.fail('has no input');
  return inputs[0];
};

/** Every supported op (besides Placeholder and Const, which the graph runner handles). */
export const OP_CONVERTERS: Readonly<Record<string, OpConverter>> = {
  Identity: identity,
  Add: binary('Add'),
  AddV2: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  BiasAdd: biasAdd,
  Relu: activationOp('relu'),
  Relu6: activationOp('relu6'),
  Sigmoid: activationOp('sigmoid'),
  Tanh: activationOp('tanh'),
  Elu: activationOp('elu'),
  Conv2D: conv(false, false),
  _FusedConv2D: conv(false, true),
  DepthwiseConv2dNative: conv(true, false),
  FusedDepthwiseConv2dNative: conv(true, true),
  MatMul: matMul(false),
  _FusedMatMul: matMul(true),
  AvgPool: pool('AveragePool'),
  MaxPool: pool('MaxPool'),
  Mean: mean,
  Squeeze: squeeze,
  Softmax: softmax,
  ConcatV2: concatV2,
};

