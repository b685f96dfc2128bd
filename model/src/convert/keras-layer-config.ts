/**
 * Typed access to a Keras layer's config for the layer converters, failing with the layer named.
 */
import { layerError } from './conversion-error.ts';
import type { KerasLayer } from './keras-topology.ts';
import { fmt, type OnnxEmitter, type TensorRef } from './onnx-emitter.ts';
import type { TfPaddingMode } from './tf-padding.ts';
import type { WeightStore } from './weight-store.ts';

export interface LayerContext {
  em: OnnxEmitter;
  weights: WeightStore;
  /** For a conv whose only consumer is a BatchNormalization: that BN, to fold into the conv's weights. */
  foldBatchNorm?: KerasLayer;
  /** True for a BatchNormalization already folded into the conv feeding it. */
  isFoldedBatchNorm: boolean;
}

export type LayerConverter = (layer: KerasLayer, inputs: TensorRef[], ctx: LayerContext) => TensorRef[];

/** Typed access to a layer's config, failing with the layer named. */
export class Cfg {
  constructor(private readonly layer: KerasLayer) {}

  fail(why: string): Error {
    return layerError(this.layer.name, this.layer.className, why);
  }

  raw(key: string): unknown {
    return this.layer.config[key];
  }

  str(key: string, fallback?: string): string {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'string') throw this.fail(`config.${key} should be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'number') throw this.fail(`config.${key} should be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'boolean') throw this.fail(`config.${key} should be true/false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Keras accepts `3` or `[3, 3]` for 2-D sizes. */
  pair(key: string, fallback?: [number, number]): [number, number] {
    const v = this.raw(key) ?? fallback;
    if (typeof v === 'number') return [v, v];
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
    throw this.fail(`config.${key} should be a number or [h, w], got ${JSON.stringify(v)}`);
  }

  padding(): TfPaddingMode {
    const p = this.str('padding', 'valid');
    if (p !== 'same' && p !== 'valid') throw this.fail(`padding "${p}" is not supported (only "same" and "valid")`);
    return p;
  }

  /** The converters assume channels_last, which every TF.js layers model uses in practice. */
  requireChannelsLast(): void {
    const f = this.raw('data_format');
    if (f !== undefined && f !== null && f !== 'channels_last') {
      throw this.fail(`data_format "${String(f)}" is not supported (only channels_last)`);
    }
  }

  /** Static H, W, C of a rank-4 input; 'same' pads cannot be computed without them. */
  imageDims(t: TensorRef): [number, number, number] {
    if (t.shape.length !== 4) throw this.fail(`expects a rank-4 NHWC input, got shape [${fmt(t.shape)}]`);
    const [, h, w, c] = t.shape;
    if (h === null || w === null || c === null) {
      throw this.fail(`needs a static input height/width/channels to compute TF padding, got [${fmt(t.shape)}]`);
    }
    return [h!, w!, c!];
  }
}

/** The one input of a single-input layer. */
export function single(layer: KerasLayer, inputs: TensorRef[]): TensorRef {
  if (inputs.length !== 1) throw layerError(layer.name, layer.className, `expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

