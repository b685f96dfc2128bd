/**
 * Keras Applications architectures (ResNet50, MobileNetV2) written out as Keras (2-form) functional
 * configs, with the exact layer names `keras.applications` gives them, so a weights-only file saved from one
 * (`resnet50_weights_tf_dim_ordering_tf_kernels.h5`, what the original service loaded) can be
 * loaded by layer name and converted like any other Keras model.
 */

type Ref = [string, number, number, Record<string, never>];

interface LayerSpec {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: Ref[][];
}

/** Builds a functional config layer by layer; each call returns the new layer's name. */
class FunctionalBuilder {
  readonly layers: LayerSpec[] = [];

  constructor(
    readonly name: string,
    readonly inputName: string,
    inputShape: (number | null)[],
  ) {
    this.layers.push({ class_name: 'InputLayer', name: inputName, config: { name: inputName, batch_input_shape: inputShape, dtype: 'float32' }, inbound_nodes: [] });
  }

  add(className: string, name: string, config: Record<string, unknown>, ...inputs: string[]): string {
    this.layers.push({ class_name: className, name, config: { name, ...config }, inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])] });
    return name;
  }

  config(output: string): { class_name: string; config: unknown } {
    return {
      class_name: 'Functional',
      config: { name: this.name, layers: this.layers, input_layers: [[this.inputName, 0, 0]], output_layers: [[output, 0, 0]] },
    };
  }
}

/** ResNet's BatchNormalization epsilon (1.001e-5, not Keras' 1e-3 default). */
const RESNET_BN = { axis: 3, epsilon: 1.001e-5, center: true, scale: true };

const conv = (filters: number, kernel: number, strides = 1, padding = 'valid') => ({
  filters,
  kernel_size: [kernel, kernel],
  strides: [strides, strides],
  padding,
  activation: 'linear',
  use_bias: true,
});

/** keras.applications.resnet `block1`: bottleneck with the stride on the first 1×1 conv (ResNet v1). */
function block1(b: FunctionalBuilder, x: string, filters: number, stride: number, convShortcut: boolean, name: string): string {
  let shortcut = x;
  if (convShortcut) {
    shortcut = b.add('Conv2D', `${name}_0_conv`, conv(4 * filters, 1, stride), x);
    shortcut = b.add('BatchNormalization', `${name}_0_bn`, RESNET_BN, shortcut);
  }
  let y = b.add('Conv2D', `${name}_1_conv`, conv(filters, 1, stride), x);
  y = b.add('BatchNormalization', `${name}_1_bn`, RESNET_BN, y);
  y = b.add('Activation', `${name}_1_relu`, { activation: 'relu' }, y);
  y = b.add('Conv2D', `${name}_2_conv`, conv(filters, 3, 1, 'same'), y);
  y = b.add('BatchNormalization', `${name}_2_bn`, RESNET_BN, y);
  y = b.add('Activation', `${name}_2_relu`, { activation: 'relu' }, y);
  y = b.add('Conv2D', `${name}_3_conv`, conv(4 * filters, 1), y);
  y = b.add('BatchNormalization', `${name}_3_bn`, RESNET_BN, y);
  const sum = b.add('Add', `${name}_add`, {}, shortcut, y);
  return b.add('Activation', `${name}_out`, { activation: 'relu' }, sum);
}

/** keras.applications.resnet `stack1`. */
function stack1(b: FunctionalBuilder, x: string, filters: number, blocks: number, stride: number, name: string): string {
  let y = block1(b, x, filters, stride, true, `${name}_block1`);
  for (let i = 2; i <= blocks; i++) y = block1(b, y, filters, 1, false, `${name}_block${i}`);
  return y;
}

/**
 * `keras.applications.ResNet50(include_top=True, classes=1000, classifier_activation="softmax")`
 * on 224×224×3 inputs: 177 layers (25,636,712 parameters in Keras), layer names as Keras gives them.
 */
export function resnet50Config(): { class_name: string; config: unknown } {
  const b = new FunctionalBuilder('resnet50', 'input_1', [null, 224, 224, 3]);
  let x = b.add('ZeroPadding2D', 'conv1_pad', { padding: [[3, 3], [3, 3]] }, 'input_1');
  x = b.add('Conv2D', 'conv1_conv', conv(64, 7, 2), x);
  x = b.add('BatchNormalization', 'conv1_bn', RESNET_BN, x);
  x = b.add('Activation', 'conv1_relu', { activation: 'relu' }, x);
  x = b.add('ZeroPadding2D', 'pool1_pad', { padding: [[1, 1], [1, 1]] }, x);
  x = b.add('MaxPooling2D', 'pool1_pool', { pool_size: [3, 3], strides: [2, 2], padding: 'valid' }, x);
  x = stack1(b, x, 64, 3, 1, 'conv2');
  x = stack1(b, x, 128, 4, 2, 'conv3');
  x = stack1(b, x, 256, 6, 2, 'conv4');
  x = stack1(b, x, 512, 3, 2, 'conv5');
  x = b.add('GlobalAveragePooling2D', 'avg_pool', {}, x);
  x = b.add('Dense', 'predictions', { units: 1000, activation: 'softmax', use_bias: true }, x);
  return b.config(x);
}

/** MobileNetV2's BatchNormalization settings. */
const MOBILENET_BN = { axis: -1, epsilon: 1e-3, momentum: 0.999, center: true, scale: true };

const pointwise = (filters: number) => ({ filters, kernel_size: [1, 1], strides: [1, 1], padding: 'same', activation: 'linear', use_bias: false });

/**
 * keras.applications.mobilenet_v2 `_inverted_res_block` at alpha 1.0: 1×1 expansion (not in block 0),
 * 3×3 depthwise (stride 2 after an asymmetric ((0,1),(0,1)) pad, as `correct_pad` gives on even
 * sizes), 1×1 linear projection, and a residual Add when shapes allow.
 */
function invertedResBlock(b: FunctionalBuilder, x: string, inChannels: number, filters: number, stride: number, expansion: number, id: number): string {
  const prefix = id === 0 ? 'expanded_conv_' : `block_${id}_`;
  let y = x;
  if (id !== 0) {
    y = b.add('Conv2D', `${prefix}expand`, pointwise(expansion * inChannels), y);
    y = b.add('BatchNormalization', `${prefix}expand_BN`, MOBILENET_BN, y);
    y = b.add('ReLU', `${prefix}expand_relu`, { max_value: 6 }, y);
  }
  if (stride === 2) y = b.add('ZeroPadding2D', `${prefix}pad`, { padding: [[0, 1], [0, 1]] }, y);
  y = b.add(
    'DepthwiseConv2D',
    `${prefix}depthwise`,
    { kernel_size: [3, 3], strides: [stride, stride], padding: stride === 1 ? 'same' : 'valid', depth_multiplier: 1, activation: 'linear', use_bias: false },
    y,
  );
  y = b.add('BatchNormalization', `${prefix}depthwise_BN`, MOBILENET_BN, y);
  y = b.add('ReLU', `${prefix}depthwise_relu`, { max_value: 6 }, y);
  y = b.add('Conv2D', `${prefix}project`, pointwise(filters), y);
  y = b.add('BatchNormalization', `${prefix}project_BN`, MOBILENET_BN, y);
  return inChannels === filters && stride === 1 ? b.add('Add', `${prefix}add`, {}, x, y) : y;
}

/** [filters, stride, expansion] of MobileNetV2's 17 inverted residual blocks (block_id 0 … 16). */
const MOBILENET_V2_BLOCKS: readonly (readonly [number, number, number])[] = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

/**
 * `keras.applications.MobileNetV2(alpha=1.0, include_top=True)` on 224×224×3 inputs, layer names as
 * tf.keras 2.x gives them (Conv1 with "same" padding; older keras-applications put a Conv1_pad before
 * a "valid" Conv1, which computes the same and has no weights).
 */
export function mobilenetV2Config(): { class_name: string; config: unknown } {
  const b = new FunctionalBuilder('mobilenetv2_1.00_224', 'input_1', [null, 224, 224, 3]);
  let x = b.add('Conv2D', 'Conv1', { filters: 32, kernel_size: [3, 3], strides: [2, 2], padding: 'same', activation: 'linear', use_bias: false }, 'input_1');
  x = b.add('BatchNormalization', 'bn_Conv1', MOBILENET_BN, x);
  x = b.add('ReLU', 'Conv1_relu', { max_value: 6 }, x);
  let channels = 32;
  MOBILENET_V2_BLOCKS.forEach(([filters, stride, expansion], id) => {
    x = invertedResBlock(b, x, channels, filters, stride, expansion, id);
    channels = filters;
  });
  x = b.add('Conv2D', 'Conv_1', pointwise(1280), x);
  x = b.add('BatchNormalization', 'Conv_1_bn', MOBILENET_BN, x);
  x = b.add('ReLU', 'out_relu', { max_value: 6 }, x);
  x = b.add('GlobalAveragePooling2D', 'global_average_pooling2d', {}, x);
  x = b.add('Dense', 'predictions', { units: 1000, activation: 'softmax', use_bias: true }, x);
  return b.config(x);
}

/** What `import keras:<name>` can build, with how the original Keras pipeline fed it. */
export interface KerasApplication {
  name: string;
  title: string;
  config: () => { class_name: string; config: unknown };
  /** `keras.applications.<module>.preprocess_input` mode. */
  preprocess: 'caffe' | 'tf' | 'torch';
  /** The weights file Keras downloads for it, for the help text. */
  weightsFile: string;
}

export const KERAS_APPLICATIONS: readonly KerasApplication[] = [
  {
    name: 'resnet50',
    title: 'Keras Applications ResNet50 (ImageNet, 1000 classes)',
    config: resnet50Config,
    preprocess: 'caffe',
    weightsFile: 'resnet50_weights_tf_dim_ordering_tf_kernels.h5',
  },
  {
    name: 'mobilenetv2',
    title: 'Keras Applications MobileNetV2 1.0 (ImageNet, 1000 classes)',
    config: mobilenetV2Config,
    preprocess: 'tf',
    weightsFile: 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5',
  },
];
