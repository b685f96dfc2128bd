/**
 * The TF-to-ONNX emitting vocabulary shared by the layers and graph converters: tensors that
 * remember their TF shape and whether ONNX holds them as NCHW, plus emitters for the ops both
 * converters need. TF models are channels-last; ONNX Runtime's convs are fastest in NCHW, so
 * rank-4 values are transposed once, lazily, when an NCHW op first needs them, and back only
 * where TF order matters (Flatten/Reshape of a spatial map, the graph output).
 */
import { GraphBuilder } from '../onnx/onnx-builder.ts';
import { ConversionError } from './conversion-error.ts';
import { onnxPads, type Pads2d } from './tf-padding.ts';

export type Layout = 'nchw' | 'tf';

/** A value in the ONNX graph as the TF model sees it. */
export interface TensorRef {
  /** ONNX value name. */
  name: string;
  /** Shape in TF order (NHWC for images); null where unknown (the batch). */
  shape: (number | null)[];
  /** `nchw`: a rank-4 TF value stored transposed to NCHW; `tf`: stored in TF order. */
  layout: Layout;
  /**
   * Zero padding not emitted yet: `name` is the unpadded value and `shape` the padded one.
   * A conv absorbs it into its own pads; anything else calls {@link OnnxEmitter.materialize}.
   */
  pendingPads?: Pads2d;
  /** Set on softmax outputs, so the converter can tell the model ends in probabilities. */
  isSoftmax?: boolean;
}

/** A TF activation name applied after a layer, and the layer it belongs to (for errors). */
export interface ActivationSite {
  layer: string;
  className: string;
}

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** TF axis of a rank-4 value → its ONNX axis when stored as NCHW. */
const NHWC_AXIS_IN_NCHW = [0, 2, 3, 1];

export interface ConvSpec {
  /** ONNX layout [out, in/group, kh, kw]. */
  weight: Float32Array;
  weightDims: [number, number, number, number];
  bias?: Float32Array;
  strides: [number, number];
  dilations: [number, number];
  pads: Pads2d;
  group: number;
  /** TF output shape [N, H, W, C]. */
  outShape: (number | null)[];
  hint: string;
}

export class OnnxEmitter {
  readonly g: GraphBuilder;
  private readonly transposed = new Map<string, TensorRef>();
  private readonly padded = new Map<string, TensorRef>();
  private readonly scalars = new Map<number, string>();
  private runtimeZero: string | undefined;

  constructor(producer: string) {
    this.g = new GraphBuilder({ opset: 13, producer });
  }

  /** Declares a float32 graph input with a symbolic batch ('N'). */
  graphInput(name: string, tfShape: (number | null)[]): TensorRef {
    const dims = tfShape.map((d, i) => (d === null || d < 0 ? (i === 0 ? 'N' : `d${i}`) : d));
    this.g.input(name, 'float32', dims);
    return { name, shape: tfShape.map((d) => (d === null || d < 0 ? null : d)), layout: 'tf' };
  }

  /** Declares the graph output in TF order under the given name. */
  graphOutput(t: TensorRef, name: string): void {
    const tf = this.toTf(t);
    this.g.op('Identity', [tf.name], {}, name);
    this.g.output(name, 'float32', tf.shape.map((d, i) => (d === null ? (i === 0 ? 'N' : `d${i}`) : d)));
  }

  /** Emits any pending zero padding as a Pad op (once per value). */
  materialize(t: TensorRef): TensorRef {
    if (!t.pendingPads) return t;
    const p = t.pendingPads;
    const key = `${t.name}|${onnxPads(p).join(',')}`;
    const cached = this.padded.get(key);
    if (cached) return cached;
    const nchw = this.toNchw(unpadded(t));
    // Pad's pads input: all begins, then all ends, in NCHW axis order.
    const pads = this.int64('pads', [0, 0, p.top, p.left, 0, 0, p.bottom, p.right]);
    const zero = this.zeroComputedAtRuntime(nchw.name);
    const out: TensorRef = { name: this.op('Pad', [nchw.name, pads, zero], {}, 'zero_pad'), shape: t.shape, layout: 'nchw' };
    this.padded.set(key, out);
    return out;
  }

  /**
   * A float 0 that ONNX Runtime cannot constant-fold. Its PadFusion merges a zero Pad into a
   * following MaxPool/AveragePool by adding to the pool's pads, which changes the result (pool
   * pads are skipped, while TF's zero padding adds real zero pixels) and can even make the session
   * fail to load; it only fuses when the pad value is a constant, so this one is derived from the
   * (dynamic-batch) shape of a value. Costs four scalar-sized ops, only in graphs that need a Pad.
   */
  private zeroComputedAtRuntime(from: string): string {
    if (this.runtimeZero === undefined) {
      const shape = this.op('Shape', [from], {}, 'pad_value_shape');
      const asFloat = this.op('Cast', [shape], { to: 1 }, 'pad_value_shape_f');
      const smallest = this.op('ReduceMin', [asFloat], { keepdims: 0 }, 'pad_value_min');
      this.runtimeZero = this.op('Mul', [smallest, this.scalar(0)], {}, 'pad_value');
    }
    return this.runtimeZero;
  }

  /** The value as NCHW (rank 4 only); transposes at most once per value. */
  toNchw(t: TensorRef): TensorRef {
    const v = this.materialize(t);
    if (v.shape.length !== 4) throw new ConversionError(`expected a rank-4 image tensor, got shape [${fmt(v.shape)}]`);
    if (v.layout === 'nchw') return v;
    return this.transposeOnce(v, TO_NCHW, 'nchw');
  }

  /** The value in TF order; transposes NCHW maps back at most once per value. */
  toTf(t: TensorRef): TensorRef {
    const v = this.materialize(t);
    if (v.layout === 'tf') return v;
    return this.transposeOnce(v, TO_NHWC, 'tf');
  }

  /** ONNX axis of a (normalized or negative) TF axis of this value. */
  onnxAxis(t: TensorRef, tfAxis: number): number {
    const rank = t.shape.length;
    const a = tfAxis < 0 ? tfAxis + rank : tfAxis;
    if (a < 0 || a >= rank) throw new ConversionError(`axis ${tfAxis} is out of range for shape [${fmt(t.shape)}]`);
    return t.layout === 'nchw' ? NHWC_AXIS_IN_NCHW[a]! : a;
  }

  /** A float32 initializer named after `hint`. */
  float(hint: string, dims: number[], data: Float32Array): string {
    return this.g.initializer(this.g.uniqueName(sanitize(hint)), dims, data, 'float32');
  }

  /** An int64 initializer (shapes, pads, axes). */
  int64(hint: string, values: number[]): string {
    return this.g.initializer(this.g.uniqueName(sanitize(hint)), [values.length], values, 'int64');
  }

  /** A shared float32 scalar initializer (Clip bounds and the like). */
  scalar(value: number): string {
    let name = this.scalars.get(value);
    if (name === undefined) {
      name = this.g.initializer(this.g.uniqueName('scalar'), [], new Float32Array([value]), 'float32');
      this.scalars.set(value, name);
    }
    return name;
  }

  /** One-output node whose output and node name derive from `hint`. */
  op(opType: string, inputs: string[], attrs: Parameters<GraphBuilder['op']>[2] = {}, hint?: string): string {
    return this.g.op(opType, inputs, attrs, this.g.uniqueName(sanitize(hint ?? opType)));
  }

  /** An NCHW Conv with explicit pads. The input must already be NCHW. */
  conv(input: TensorRef, spec: ConvSpec): TensorRef {
    if (input.layout !== 'nchw' || input.pendingPads) throw new Error('conv: input must be a materialized NCHW value');
    const w = this.float(`${spec.hint}_W`, spec.weightDims, spec.weight);
    const inputs = [input.name, w];
    if (spec.bias) inputs.push(this.float(`${spec.hint}_B`, [spec.bias.length], spec.bias));
    const name = this.op(
      'Conv',
      inputs,
      {
        kernel_shape: [spec.weightDims[2], spec.weightDims[3]],
        strides: spec.strides,
        dilations: spec.dilations,
        pads: onnxPads(spec.pads),
        group: spec.group,
      },
      spec.hint,
    );
    return { name, shape: spec.outShape, layout: 'nchw' };
  }

  /** y = x * scale + shift along the value's channel axis (the last TF axis). */
  channelAffine(t: TensorRef, scale: Float32Array, shift: Float32Array, hint: string): TensorRef {
    const v = this.materialize(t);
    const c = scale.length;
    // NCHW broadcasting needs [C,1,1]; TF order broadcasts a plain [C] over the last axis.
    const dims = v.layout === 'nchw' ? [c, 1, 1] : [c];
    const mul = this.op('Mul', [v.name, this.float(`${hint}_scale`, dims, scale)], {}, `${hint}_mul`);
    const add = this.op('Add', [mul, this.float(`${hint}_shift`, dims, shift)], {}, hint);
    return { name: add, shape: v.shape, layout: v.layout };
  }

  /**
   * Applies a Keras/TF activation by name. Unknown names fail with the layer named, because a
   * silently skipped activation would give plausible but wrong outputs.
   */
  activation(t: TensorRef, activation: string, site: ActivationSite): TensorRef {
    const v = this.materialize(t);
    const same = (name: string, extra: Partial<TensorRef> = {}): TensorRef => ({ name, shape: v.shape, layout: v.layout, ...extra });
    const hint = `${site.layer}_${activation}`;
    switch (activation) {
      case 'linear':
      case 'identity':
        return v;
      case 'relu':
        return same(this.op('Relu', [v.name], {}, hint));
      case 'relu6':
        return same(this.op('Clip', [v.name, this.scalar(0), this.scalar(6)], {}, hint));
      case 'sigmoid':
        return same(this.op('Sigmoid', [v.name], {}, hint));
      case 'hard_sigmoid':
        // Keras 2/tfjs: clip(0.2 * x + 0.5, 0, 1), which is ONNX's HardSigmoid default.
        return same(this.op('HardSigmoid', [v.name], { alpha: { float: 0.2 }, beta: { float: 0.5 } }, hint));
      case 'keras3_hard_sigmoid':
        // Keras 3 redefined it as relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1) (keras-config-values.ts renames it).
        return same(this.op('HardSigmoid', [v.name], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }, hint));
      case 'hard_silu':
      case 'hard_swish': {
        // Keras 3: x * relu6(x + 3) / 6 (MobileNetV3).
        const gate = this.op('HardSigmoid', [v.name], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }, `${hint}_gate`);
        return same(this.op('Mul', [v.name, gate], {}, hint));
      }
      case 'gelu': {
        // Keras' default (approximate=False): x / 2 * (1 + erf(x / sqrt(2))).
        const erf = this.op('Erf', [this.op('Mul', [v.name, this.scalar(Math.SQRT1_2)], {}, `${hint}_scaled`)], {}, `${hint}_erf`);
        const onePlus = this.op('Add', [erf, this.scalar(1)], {}, `${hint}_1p`);
        return same(this.op('Mul', [this.op('Mul', [v.name, this.scalar(0.5)], {}, `${hint}_half`), onePlus], {}, hint));
      }
      case 'tanh':
        return same(this.op('Tanh', [v.name], {}, hint));
      case 'elu':
        return same(this.op('Elu', [v.name], { alpha: { float: 1 } }, hint));
      case 'selu':
        return same(this.op('Selu', [v.name], {}, hint));
      case 'softplus':
        return same(this.op('Softplus', [v.name], {}, hint));
      case 'softsign':
        return same(this.op('Softsign', [v.name], {}, hint));
      case 'swish':
      case 'silu': {
        const sig = this.op('Sigmoid', [v.name], {}, `${hint}_sigmoid`);
        return same(this.op('Mul', [v.name, sig], {}, hint));
      }
      case 'softmax':
        return this.softmax(v, -1, hint);
      default:
        throw new ConversionError(
          `cannot convert layer "${site.layer}" (class ${site.className}): activation "${activation}" is not supported ` +
            '(supported: linear, relu, relu6, sigmoid, hard_sigmoid, hard_silu, tanh, elu, selu, softplus, softsign, swish, gelu, softmax)',
        );
    }
  }

  /** Softmax over one TF axis (opset 13 Softmax normalizes a single axis, like TF). */
  softmax(t: TensorRef, tfAxis: number, hint: string): TensorRef {
    const v = this.materialize(t);
    const name = this.op('Softmax', [v.name], { axis: this.onnxAxis(v, tfAxis) }, hint);
    return { name, shape: v.shape, layout: v.layout, isSoftmax: true };
  }

  private transposeOnce(v: TensorRef, perm: number[], layout: Layout): TensorRef {
    const key = `${v.name}->${layout}`;
    const cached = this.transposed.get(key);
    if (cached) return cached;
    const out: TensorRef = { name: this.op('Transpose', [v.name], { perm }, `${v.name}_${layout}`), shape: v.shape, layout };
    this.transposed.set(key, out);
    // Going back must find the original rather than stacking a second transpose.
    this.transposed.set(`${out.name}->${v.layout}`, v);
    return out;
  }
}

/** The value a pending ZeroPadding2D applies to, with its own (unpadded) shape. */
export function unpadded(t: TensorRef): TensorRef {
  const p = t.pendingPads;
  if (!p) return t;
  const [n, h, w, c] = t.shape;
  const shrink = (d: number | null | undefined, by: number) => (d === null || d === undefined ? null : d - by);
  return { name: t.name, layout: t.layout, shape: [n ?? null, shrink(h, p.top + p.bottom), shrink(w, p.left + p.right), c ?? null] };
}

/** ONNX allows any value name, but tidy names make Netron views and error messages readable. */
function sanitize(hint: string): string {
  return hint.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 120) || 'v';
}

export function fmt(shape: (number | null)[]): string {
  return shape.map((d) => (d === null ? '?' : d)).join(', ');
}
