/**
 * The convolution family of Keras layer converters (Conv2D, DepthwiseConv2D, SeparableConv2D) and
 * BatchNormalization, which folds into a conv before it when it can.
 */
import type { KerasLayer } from './keras-topology.ts';
import { Cfg, single, type LayerContext, type LayerConverter } from './keras-layer-config.ts';
import { unpadded, type TensorRef } from './onnx-emitter.ts';
import { addPads, NO_PADS, tfSpatialPadding, type Pads2d } from './tf-padding.ts';
import {
  batchNormScaleShift,
  depthwiseToOnnx,
  foldScaleShift,
  hwioToOihw,
  type BatchNormParams,
} from './weight-layout.ts';
import type { WeightStore } from './weight-store.ts';

/** Reads a BatchNormalization layer's parameters (gamma/beta are absent when scale/center are off). */
function batchNormParams(bn: KerasLayer, weights: WeightStore, channels: number): BatchNormParams {
  const c = new Cfg(bn);
  const get = (param: string) => weights.get(bn.name, bn.className, param, [channels]).values;
  return {
    gamma: c.bool('scale', true) ? get('gamma') : undefined,
    beta: c.bool('center', true) ? get('beta') : undefined,
    mean: get('moving_mean'),
    variance: get('moving_variance'),
    epsilon: c.num('epsilon', 1e-3),
  };
}

/** Shared by Conv2D, DepthwiseConv2D and SeparableConv2D: pads (absorbing pending ZeroPadding2D), BN folding, activation. */
function emitConv(
  layer: KerasLayer,
  x: TensorRef,
  ctx: LayerContext,
  conv: { weight: Float32Array; weightDims: [number, number, number, number]; bias?: Float32Array; group: number },
  cfg: Cfg,
): TensorRef {
  const [h, w] = cfg.imageDims(x);
  const kernel: [number, number] = [conv.weightDims[2], conv.weightDims[3]];
  const strides = cfg.pair('strides', [1, 1]);
  const dilations = cfg.pair('dilation_rate', [1, 1]);
  // x.shape is the padded shape, so TF's own pads are computed as TF would on the padded input.
  const { pads, outHW } = tfSpatialPadding(cfg.padding(), [h, w], kernel, strides, dilations);
  const totalPads: Pads2d = addPads(pads, x.pendingPads ?? NO_PADS);
  let { weight, bias } = conv;
  if (ctx.foldBatchNorm) {
    const { scale, shift } = batchNormScaleShift(batchNormParams(ctx.foldBatchNorm, ctx.weights, conv.weightDims[0]));
    ({ weight, bias } = foldScaleShift(weight, bias, scale, shift));
  }
  const source = ctx.em.toNchw(unpadded(x));
  const out = ctx.em.conv(source, {
    weight,
    weightDims: conv.weightDims,
    bias,
    strides,
    dilations,
    pads: totalPads,
    group: conv.group,
    outShape: [x.shape[0]!, outHW[0], outHW[1], conv.weightDims[0]],
    hint: layer.name,
  });
  return ctx.em.activation(out, cfg.str('activation', 'linear'), { layer: layer.name, className: layer.className });
}

export const conv2d: LayerConverter = (layer, inputs, ctx) => {
  const cfg = new Cfg(layer);
  cfg.requireChannelsLast();
  const x = single(layer, inputs);
  const [, , cin] = cfg.imageDims(x);
  const groups = cfg.num('groups', 1);
  const [kh, kw] = cfg.pair('kernel_size');
  const filters = cfg.num('filters');
  const k = ctx.weights.get(layer.name, layer.className, 'kernel', [kh, kw, cin / groups, filters]);
  const bias = cfg.bool('use_bias', true)
    ? ctx.weights.get(layer.name, layer.className, 'bias', [filters]).values
    : undefined;
  return [
    emitConv(
      layer,
      x,
      ctx,
      {
        weight: hwioToOihw(k.values, k.shape),
        weightDims: [filters, cin / groups, kh, kw],
        bias: bias && Float32Array.from(bias),
        group: groups,
      },
      cfg,
    ),
  ];
};

/** The depthwise part both DepthwiseConv2D and SeparableConv2D read: input, channels, kernel size and weights. */
function readDepthwise(layer: KerasLayer, inputs: TensorRef[], ctx: LayerContext) {
  const cfg = new Cfg(layer);
  cfg.requireChannelsLast();
  const x = single(layer, inputs);
  const [, , cin] = cfg.imageDims(x);
  const [kh, kw] = cfg.pair('kernel_size');
  const mult = cfg.num('depth_multiplier', 1);
  const k = ctx.weights.get(layer.name, layer.className, 'depthwise_kernel', [kh, kw, cin, mult]);
  const conv = { weight: depthwiseToOnnx(k.values, k.shape), weightDims: [cin * mult, 1, kh, kw] as [number, number, number, number], group: cin };
  return { cfg, x, cin, mult, conv };
}

export const depthwiseConv2d: LayerConverter = (layer, inputs, ctx) => {
  const { cfg, x, cin, mult, conv } = readDepthwise(layer, inputs, ctx);
  const bias = cfg.bool('use_bias', true) ? ctx.weights.get(layer.name, layer.className, 'bias', [cin * mult]).values : undefined;
  return [emitConv(layer, x, ctx, { ...conv, bias: bias && Float32Array.from(bias) }, cfg)];
};

export const batchNormalization: LayerConverter = (layer, inputs, ctx) => {
  const x = single(layer, inputs);
  if (ctx.isFoldedBatchNorm) return [x];
  const cfg = new Cfg(layer);
  const rawAxis = cfg.raw('axis') ?? -1;
  const axis = Array.isArray(rawAxis) && rawAxis.length === 1 ? rawAxis[0] : rawAxis;
  const rank = x.shape.length;
  if (axis !== -1 && axis !== rank - 1) {
    throw cfg.fail(`normalizes axis ${JSON.stringify(rawAxis)}; only the last (channel) axis is supported`);
  }
  const channels = x.shape[rank - 1];
  if (channels === null || channels === undefined) throw cfg.fail('needs a static channel count');
  const { scale, shift } = batchNormScaleShift(batchNormParams(layer, ctx.weights, channels));
  return [ctx.em.channelAffine(x, Float32Array.from(scale), Float32Array.from(shift), layer.name)];
};

/**
 * SeparableConv2D is a depthwise conv (strides, padding, dilation, no bias) followed by a 1×1
 * pointwise conv that carries the bias and the activation; it becomes exactly those two Convs.
 */
export const separableConv2d: LayerConverter = (layer, inputs, ctx) => {
  const { cfg, x, cin, mult, conv } = readDepthwise(layer, inputs, ctx);
  const filters = cfg.num('filters');
  const pk = ctx.weights.get(layer.name, layer.className, 'pointwise_kernel', [1, 1, cin * mult, filters]);
  const bias = cfg.bool('use_bias', true) ? ctx.weights.get(layer.name, layer.className, 'bias', [filters]).values : undefined;
  const depthwiseStep: KerasLayer = { ...layer, name: `${layer.name}_depthwise`, config: { ...layer.config, activation: 'linear' } };
  const mid = emitConv(depthwiseStep, x, { ...ctx, foldBatchNorm: undefined }, conv, new Cfg(depthwiseStep));
  const pointwiseStep: KerasLayer = {
    ...layer,
    config: { ...layer.config, kernel_size: [1, 1], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1] },
  };
  const pointwise = { weight: hwioToOihw(pk.values, pk.shape), weightDims: [filters, cin * mult, 1, 1] as [number, number, number, number], bias: bias && Float32Array.from(bias), group: 1 };
  return [emitConv(pointwiseStep, mid, ctx, pointwise, new Cfg(pointwiseStep))];
};
