/**
 * One converter per Keras layer class: each reads its layer's config and weights and emits the
 * equivalent ONNX ops through the {@link OnnxEmitter}. The registry's keys are the supported
 * classes; anything else fails in the graph runner with the layer's name and class.
 */
import { layerError } from './conversion-error.ts';
import { batchNormalization, conv2d, depthwiseConv2d, separableConv2d } from './keras-conv-layers.ts';
import { Cfg, single, type LayerConverter } from './keras-layer-config.ts';
import type { KerasLayer } from './keras-topology.ts';
import { fmt, type OnnxEmitter, type TensorRef } from './onnx-emitter.ts';
import { addPads, NO_PADS, tfSpatialPadding, type Pads2d } from './tf-padding.ts';

export type { LayerContext, LayerConverter } from './keras-layer-config.ts';

/** Classes whose converters take inputs with pending zero padding (they absorb or compose it). */
export const ACCEPTS_PENDING_PADS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'ZeroPadding2D']);

const relu: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  const x = ctx.em.materialize(single(layer, inputs));
  const maxValue = cfg.raw('max_value') ?? null;
  const slope = cfg.num('negative_slope', 0);
  if (cfg.num('threshold', 0) !== 0) throw cfg.fail('a non-zero threshold is not supported');
  const same = (name: string): TensorRef[] => [{ name, shape: x.shape, layout: x.layout }];
  if (slope === 0 && maxValue === null) return same(ctx.em.op('Relu', [x.name], {}, layer.name));
  if (slope === 0 && typeof maxValue === 'number') {
    return same(ctx.em.op('Clip', [x.name, ctx.em.scalar(0), ctx.em.scalar(maxValue)], {}, layer.name));
  }
  if (maxValue === null) return same(ctx.em.op('LeakyRelu', [x.name], { alpha: { float: slope } }, layer.name));
  throw cfg.fail('negative_slope together with max_value is not supported');
};

const leakyRelu: LayerConverter = (layer, inputs, ctx) => {
  const x = ctx.em.materialize(single(layer, inputs));
  const cfg = new Cfg(layer);
  // Keras 2 calls it alpha (default 0.3); Keras 3 calls it negative_slope.
  const alpha = cfg.num('alpha', cfg.num('negative_slope', 0.3));
  return [{ name: ctx.em.op('LeakyRelu', [x.name], { alpha: { float: alpha } }, layer.name), shape: x.shape, layout: x.layout }];
};

const activation: LayerConverter = (layer, inputs, ctx) => [
  ctx.em.activation(single(layer, inputs), new Cfg(layer).str('activation'), { layer: layer.name, className: layer.className }),
];

const softmax: LayerConverter = (layer, inputs, ctx) => {
  const rawAxis = new Cfg(layer).raw('axis') ?? -1;
  const axis = Array.isArray(rawAxis) && rawAxis.length === 1 ? rawAxis[0] : rawAxis;
  if (typeof axis !== 'number') throw layerError(layer.name, layer.className, `axis ${JSON.stringify(rawAxis)} is not supported`);
  return [ctx.em.softmax(single(layer, inputs), axis, layer.name)];
};

/** Left as pending padding so a following conv can absorb it into its pads (no Pad op at all). */
const zeroPadding2d: LayerConverter = (layer, inputs) => {
  const cfg = new Cfg(layer);
  cfg.requireChannelsLast();
  const x = single(layer, inputs);
  const [h, w, c] = cfg.imageDims(x);
  const raw = cfg.raw('padding') ?? 1;
  let pads: Pads2d;
  if (typeof raw === 'number') pads = { top: raw, bottom: raw, left: raw, right: raw };
  else if (Array.isArray(raw) && raw.every((v) => typeof v === 'number')) {
    pads = { top: raw[0], bottom: raw[0], left: raw[1], right: raw[1] };
  } else if (Array.isArray(raw) && raw.every((v) => Array.isArray(v) && v.length === 2)) {
    pads = { top: raw[0][0], bottom: raw[0][1], left: raw[1][0], right: raw[1][1] };
  } else throw cfg.fail(`padding ${JSON.stringify(raw)} is not understood`);
  return [
    {
      name: x.name,
      layout: x.layout,
      shape: [x.shape[0]!, h + pads.top + pads.bottom, w + pads.left + pads.right, c],
      pendingPads: addPads(x.pendingPads ?? NO_PADS, pads),
    },
  ];
};

function pooling(kind: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (layer, inputs, ctx) => {
    const cfg = new Cfg(layer);
    cfg.requireChannelsLast();
    const x = ctx.em.toNchw(single(layer, inputs));
    const [h, w, c] = cfg.imageDims(x);
    const pool = cfg.pair('pool_size', [2, 2]);
    const strides = cfg.raw('strides') === null ? pool : cfg.pair('strides', pool);
    const { pads, outHW } = tfSpatialPadding(cfg.padding(), [h, w], pool, strides);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: pool,
      strides,
      pads: [pads.top, pads.left, pads.bottom, pads.right],
    };
    // TF averages only the in-bounds pixels of a padded window.
    if (kind === 'AveragePool') attrs['count_include_pad'] = 0;
    const name = ctx.em.op(kind, [x.name], attrs, layer.name);
    return [{ name, shape: [x.shape[0]!, outHW[0], outHW[1], c], layout: 'nchw' }];
  };
}

function globalPooling(kind: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (layer, inputs, ctx) => {
    const cfg = new Cfg(layer);
    cfg.requireChannelsLast();
    const x = ctx.em.toNchw(single(layer, inputs));
    const c = x.shape[3]!;
    const pooled = ctx.em.op(kind, [x.name], {}, layer.name);
    if (cfg.bool('keepdims', false)) return [{ name: pooled, shape: [x.shape[0]!, 1, 1, c], layout: 'nchw' }];
    const flat = ctx.em.op('Flatten', [pooled], { axis: 1 }, `${layer.name}_flat`);
    return [{ name: flat, shape: [x.shape[0]!, c], layout: 'tf' }];
  };
}

const flatten: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  cfg.requireChannelsLast();
  let x = ctx.em.materialize(single(layer, inputs));
  if (x.shape.length === 2) return [x];
  // A 1×1 NCHW map flattens to the same order as NHWC, so the transpose back can be skipped.
  const spatialIsOne = x.shape.length === 4 && x.shape[1] === 1 && x.shape[2] === 1;
  if (!spatialIsOne) x = ctx.em.toTf(x);
  const rest = x.shape.slice(1);
  const size = rest.every((d) => d !== null) ? rest.reduce<number>((a, b) => a * b!, 1) : null;
  return [{ name: ctx.em.op('Flatten', [x.name], { axis: 1 }, layer.name), shape: [x.shape[0]!, size], layout: 'tf' }];
};

const reshape: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  const x = ctx.em.toTf(single(layer, inputs));
  const target = cfg.raw('target_shape');
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number')) {
    throw cfg.fail(`target_shape ${JSON.stringify(target)} is not a list of numbers`);
  }
  const known = x.shape.slice(1).every((d) => d !== null) ? x.shape.slice(1).reduce<number>((a, b) => a * b!, 1) : null;
  const free = target.indexOf(-1);
  const fixed = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = target.map((d) => (d === -1 ? (known === null ? null : known / fixed) : d));
  if (free < 0 && known !== null && known !== fixed) {
    throw cfg.fail(`cannot reshape [${fmt(x.shape)}] to [${target}]: element counts differ`);
  }
  // 0 keeps the (dynamic) batch dimension.
  const shape = ctx.em.int64(`${layer.name}_shape`, [0, ...target]);
  return [{ name: ctx.em.op('Reshape', [x.name, shape], {}, layer.name), shape: [x.shape[0]!, ...resolved], layout: 'tf' }];
};

const dense: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  const x = ctx.em.toTf(single(layer, inputs));
  if (x.shape.length !== 2 || x.shape[1] === null) {
    throw cfg.fail(`expects a rank-2 input with a static feature size, got [${fmt(x.shape)}] (add a Flatten before it)`);
  }
  const units = cfg.num('units');
  const k = ctx.weights.get(layer.name, layer.className, 'kernel', [x.shape[1]!, units]);
  const inputsOnnx = [x.name, ctx.em.float(`${layer.name}_W`, k.shape, Float32Array.from(k.values))];
  if (cfg.bool('use_bias', true)) {
    const b = ctx.weights.get(layer.name, layer.className, 'bias', [units]);
    inputsOnnx.push(ctx.em.float(`${layer.name}_B`, [units], Float32Array.from(b.values)));
  }
  const out = ctx.em.op('Gemm', inputsOnnx, {}, layer.name);
  return [ctx.em.activation({ name: out, shape: [x.shape[0]!, units], layout: 'tf' }, cfg.str('activation', 'linear'), { layer: layer.name, className: layer.className })];
};

/** Regularization layers do nothing at inference. */
const identity: LayerConverter = (layer, inputs) => [single(layer, inputs)];

/** Brings merge inputs to one layout: NCHW when they are image maps (the usual case), else TF order. */
function alignForMerge(layer: KerasLayer, inputs: TensorRef[], em: OnnxEmitter): TensorRef[] {
  if (inputs.length < 2) throw layerError(layer.name, layer.className, `expects at least 2 inputs, got ${inputs.length}`);
  const rank = inputs[0]!.shape.length;
  if (inputs.some((t) => t.shape.length !== rank)) {
    throw layerError(layer.name, layer.className, `inputs of different ranks are not supported: ${inputs.map((t) => `[${fmt(t.shape)}]`).join(' ')}`);
  }
  return inputs.map((t) => (rank === 4 ? em.toNchw(t) : em.toTf(t)));
}

function elementwise(opType: 'Add' | 'Mul' | 'Max' | 'Min' | 'Mean' | 'Sub'): LayerConverter {
  return (layer, inputs, ctx) => {
    const xs = alignForMerge(layer, inputs, ctx.em);
    const shape = xs[0]!.shape;
    for (const t of xs) {
      if (t.shape.some((d, i) => d !== shape[i])) {
        throw layerError(layer.name, layer.className, `inputs have different shapes [${fmt(shape)}] and [${fmt(t.shape)}]`);
      }
    }
    if (opType === 'Sub' && xs.length !== 2) throw layerError(layer.name, layer.className, 'Subtract takes exactly 2 inputs');
    // Add/Mul/Sub are binary in ONNX; Sum/Max/Min/Mean are variadic.
    const variadic = opType === 'Add' && xs.length > 2 ? 'Sum' : opType;
    let name: string;
    if (variadic === 'Mul') {
      name = xs.slice(1).reduce((acc, t, i) => ctx.em.op('Mul', [acc, t.name], {}, i === xs.length - 2 ? layer.name : undefined), xs[0]!.name);
    } else {
      name = ctx.em.op(variadic, xs.map((t) => t.name), {}, layer.name);
    }
    return [{ name, shape, layout: xs[0]!.layout }];
  };
}

const concatenate: LayerConverter = (layer, inputs, ctx) => {
  const xs = alignForMerge(layer, inputs, ctx.em);
  const tfAxis = new Cfg(layer).num('axis', -1);
  const rank = xs[0]!.shape.length;
  const a = tfAxis < 0 ? tfAxis + rank : tfAxis;
  if (a === 0) throw layerError(layer.name, layer.className, 'concatenating along the batch axis is not supported');
  const shape = [...xs[0]!.shape];
  shape[a] = xs.every((t) => t.shape[a] !== null) ? xs.reduce((s, t) => s + t.shape[a]!, 0) : null;
  const name = ctx.em.op('Concat', xs.map((t) => t.name), { axis: ctx.em.onnxAxis(xs[0]!, a) }, layer.name);
  return [{ name, shape, layout: xs[0]!.layout }];
};


/**
 * Rescaling (x * scale + offset, per channel when given as lists): the model's own input scaling.
 * Keras Applications and `image_dataset_from_directory` models put it first, so the importer
 * feeds such models raw 0–255 pixels.
 */
const rescaling: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  const x = ctx.em.materialize(single(layer, inputs));
  const channels = x.shape[x.shape.length - 1];
  const perChannel = (key: string, fallback: number): Float32Array => {
    const v = cfg.raw(key) ?? fallback;
    if (typeof v === 'number') return new Float32Array(channels ?? 1).fill(v);
    if (Array.isArray(v) && v.every((n) => typeof n === 'number') && v.length === channels) return Float32Array.from(v);
    throw cfg.fail(`config.${key} ${JSON.stringify(v)} must be a number or one number per channel`);
  };
  if (channels === null || channels === undefined) throw cfg.fail('needs a static channel count');
  return [ctx.em.channelAffine(x, perChannel('scale', 1), perChannel('offset', 0), layer.name)];
};
/** Every supported Keras layer class (besides InputLayer and nested models, which the graph runner handles). */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Rescaling: rescaling,
  BatchNormalization: batchNormalization,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  Activation: activation,
  Softmax: softmax,
  ZeroPadding2D: zeroPadding2d,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  Flatten: flatten,
  Reshape: reshape,
  Dense: dense,
  Dropout: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Add: elementwise('Add'),
  Subtract: elementwise('Sub'),
  Multiply: elementwise('Mul'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Average: elementwise('Mean'),
  Concatenate: concatenate,
};
