/**
 * MobileNetV2 1.0 / 224 with random weights, for benchmarks of a light model: depthwise convs
 * and inverted residuals stress ONNX Runtime differently from ResNet's dense convs.
 */
import { GraphBuilder } from '../onnx/onnx-builder.ts';
import { ConvNet, type FeatureMap } from './layers.ts';
import type { GeneratedModel } from './generated-model.ts';
import {
  IMAGENET_CLASSES,
  IMAGENET_INPUT,
  IMAGENET_OUTPUT,
  IMAGENET_SIZE,
  imagenetRandomConfig,
  placeholderLabels,
} from './imagenet-config.ts';
import { mulberry32, seedFromString } from './random.ts';

/** The paper's table 2: expansion t, output channels c, repeats n, first stride s. */
const STAGES: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];
const STEM_CHANNELS = 32;
const LAST_CHANNELS = 1280;
/** Damps the linear projection of residual blocks so the random activations stay in ReLU6's useful range. */
const RESIDUAL_GAIN = 0.5;

/** Builds MobileNetV2 1.0 (BatchNorm folded into conv biases, ReLU6 as Clip 0..6). ~0.3 G MACs per image. */
export function buildMobilenetV2(name = 'mobilenetv2-random', onProgress?: (msg: string) => void): GeneratedModel {
  const graph = new GraphBuilder();
  const net = new ConvNet(graph, mulberry32(seedFromString('mobilenetv2-random')));
  const data = graph.input(IMAGENET_INPUT, 'float32', ['N', 3, IMAGENET_SIZE, IMAGENET_SIZE]);
  let x: FeatureMap = { name: data, channels: 3, height: IMAGENET_SIZE, width: IMAGENET_SIZE };
  x = net.relu6(net.conv(x, 'features.0', { out: STEM_CHANNELS, kernel: 3, stride: 2 }));
  let block = 1;
  for (const [t, c, n, s] of STAGES) {
    for (let i = 0; i < n; i++) x = invertedResidual(net, x, `features.${block++}`, t, c, i === 0 ? s : 1);
  }
  onProgress?.(`${name}: ${block - 1} inverted residual blocks (${(graph.parameterCount / 1e6).toFixed(2)} M parameters so far)`);
  x = net.relu6(net.conv(x, `features.${block}`, { out: LAST_CHANNELS, kernel: 1 }));
  net.classifierHead(x, 'classifier', IMAGENET_CLASSES, IMAGENET_OUTPUT);
  graph.output(IMAGENET_OUTPUT, 'float32', ['N', IMAGENET_CLASSES]);
  return {
    config: imagenetRandomConfig(
      'mobilenetv2-random',
      name,
      'MobileNetV2 1.0 (224) architecture with random weights, for benchmarks (ImageNet input and output shapes).',
    ),
    labels: placeholderLabels(),
    graph,
    macs: net.macs,
  };
}

function invertedResidual(
  net: ConvNet,
  x: FeatureMap,
  prefix: string,
  expansion: number,
  out: number,
  stride: number,
): FeatureMap {
  const hidden = x.channels * expansion;
  const residual = stride === 1 && x.channels === out;
  let y = x;
  if (expansion !== 1) y = net.relu6(net.conv(y, `${prefix}.expand`, { out: hidden, kernel: 1 }));
  y = net.relu6(net.conv(y, `${prefix}.depthwise`, { out: hidden, kernel: 3, stride, group: hidden }));
  y = net.conv(y, `${prefix}.project`, { out, kernel: 1, gain: residual ? RESIDUAL_GAIN : 1 });
  return residual ? net.add(y, x) : y;
}
