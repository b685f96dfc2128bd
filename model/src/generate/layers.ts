/**
 * CNN building blocks for generated models: convolutions with BatchNorm already folded into
 * their bias (as an inference export would have it), activations, pooling and a classifier head.
 * It tracks feature-map sizes so it can count parameters and multiply-accumulates per image.
 */
import type { GraphBuilder } from '../onnx/onnx-builder.ts';
import { heUniform, uniform, type Rng } from './random.ts';

/** A value in the graph with its (per image) NCHW feature-map shape. */
export interface FeatureMap {
  name: string;
  channels: number;
  height: number;
  width: number;
}

export interface ConvOptions {
  out: number;
  kernel: number;
  stride?: number;
  /** Channel groups; `group === in channels` makes a depthwise convolution. */
  group?: number;
  /** Scales the He bound; residual branches use less than 1 so the sum stays tame over many blocks. */
  gain?: number;
}

/** Magnitude of the random biases standing in for folded BatchNorm shifts. */
const BIAS_BOUND = 0.05;

export class ConvNet {
  /** Multiply-accumulates per image, summed over conv and dense layers. */
  macs = 0;

  constructor(
    readonly graph: GraphBuilder,
    private readonly rng: Rng,
  ) {}

  /** Conv with 'same'-style padding (kernel/2) and a bias; weights named `${prefix}.weight` / `.bias`. */
  conv(x: FeatureMap, prefix: string, o: ConvOptions): FeatureMap {
    const stride = o.stride ?? 1;
    const group = o.group ?? 1;
    const pad = Math.floor(o.kernel / 2);
    if (x.channels % group !== 0 || o.out % group !== 0) {
      throw new Error(`${prefix}: ${x.channels}→${o.out} channels do not split into ${group} groups`);
    }
    const inPerGroup = x.channels / group;
    const fanIn = inPerGroup * o.kernel * o.kernel;
    const w = this.graph.initializer(
      `${prefix}.weight`,
      [o.out, inPerGroup, o.kernel, o.kernel],
      heUniform(this.rng, o.out * fanIn, fanIn, o.gain),
    );
    const b = this.graph.initializer(`${prefix}.bias`, [o.out], uniform(this.rng, o.out, BIAS_BOUND));
    const name = this.graph.op('Conv', [x.name, w, b], {
      kernel_shape: [o.kernel, o.kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
      group,
    });
    const height = Math.floor((x.height + 2 * pad - o.kernel) / stride) + 1;
    const width = Math.floor((x.width + 2 * pad - o.kernel) / stride) + 1;
    this.macs += height * width * o.out * fanIn;
    return { name, channels: o.out, height, width };
  }

  relu(x: FeatureMap): FeatureMap {
    return { ...x, name: this.graph.op('Relu', [x.name]) };
  }

  /** ReLU6 as opset-11+ Clip with min/max inputs (shared scalar initializers). */
  relu6(x: FeatureMap): FeatureMap {
    if (!this.graph.has('relu6.min')) {
      this.graph.initializer('relu6.min', [], new Float32Array([0]));
      this.graph.initializer('relu6.max', [], new Float32Array([6]));
    }
    return { ...x, name: this.graph.op('Clip', [x.name, 'relu6.min', 'relu6.max']) };
  }

  add(a: FeatureMap, b: FeatureMap): FeatureMap {
    if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
      throw new Error(`cannot add ${a.name} and ${b.name}: shapes differ`);
    }
    return { ...a, name: this.graph.op('Add', [a.name, b.name]) };
  }

  maxPool(x: FeatureMap, kernel: number, stride: number): FeatureMap {
    const pad = Math.floor(kernel / 2);
    const name = this.graph.op('MaxPool', [x.name], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
    const height = Math.floor((x.height + 2 * pad - kernel) / stride) + 1;
    const width = Math.floor((x.width + 2 * pad - kernel) / stride) + 1;
    return { name, channels: x.channels, height, width };
  }

  /**
   * GlobalAveragePool → Flatten → Gemm to `classes` outputs, written to `outputName`.
   * The dense weight is stored [classes, features] with transB=1, as PyTorch exports it.
   */
  classifierHead(x: FeatureMap, prefix: string, classes: number, outputName: string): string {
    const pooled = this.graph.op('GlobalAveragePool', [x.name]);
    const flat = this.graph.op('Flatten', [pooled], { axis: 1 });
    // Glorot-like scale: logits come out with a spread of a few units, so softmax is not one-hot.
    const w = this.graph.initializer(
      `${prefix}.weight`,
      [classes, x.channels],
      uniform(this.rng, classes * x.channels, Math.sqrt(3 / x.channels)),
    );
    const b = this.graph.initializer(`${prefix}.bias`, [classes], uniform(this.rng, classes, BIAS_BOUND));
    this.macs += classes * x.channels;
    return this.graph.op('Gemm', [flat, w, b], { transB: 1 }, outputName);
  }
}
