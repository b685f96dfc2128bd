/**
 * ResNet-50 with random weights, the same shape and cost as the real one, for benchmarks:
 * throughput and latency depend on the architecture, not on what the weights have learnt.
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

/** [bottleneck width, blocks, stride of the first block] per stage; output channels are width × 4. */
const STAGES: readonly (readonly [number, number, number])[] = [
  [64, 3, 1],
  [128, 4, 2],
  [256, 6, 2],
  [512, 3, 2],
];
const EXPANSION = 4;
/**
 * The last conv of each residual branch starts small (as zero-init-residual training does),
 * so 16 random blocks add up to logits of a few units instead of exploding.
 */
const RESIDUAL_GAIN = 0.2;

/**
 * Builds ResNet-50 v1 (BatchNorm folded into conv biases). The stride sits on the 3×3 conv of
 * each bottleneck, as in torchvision and the ONNX Model Zoo exports ("v1.5"): ~4.1 G MACs per image.
 */
export function buildResnet50(name = 'resnet50-random', onProgress?: (msg: string) => void): GeneratedModel {
  const graph = new GraphBuilder();
  const net = new ConvNet(graph, mulberry32(seedFromString('resnet50-random')));
  const data = graph.input(IMAGENET_INPUT, 'float32', ['N', 3, IMAGENET_SIZE, IMAGENET_SIZE]);
  let x: FeatureMap = { name: data, channels: 3, height: IMAGENET_SIZE, width: IMAGENET_SIZE };
  x = net.relu(net.conv(x, 'conv1', { out: 64, kernel: 7, stride: 2 }));
  x = net.maxPool(x, 3, 2);
  STAGES.forEach(([width, blocks, stride], s) => {
    for (let i = 0; i < blocks; i++) {
      x = bottleneck(net, x, `layer${s + 1}.${i}`, width, i === 0 ? stride : 1);
    }
    onProgress?.(`${name}: stage ${s + 1}/${STAGES.length} done (${(graph.parameterCount / 1e6).toFixed(2)} M parameters so far)`);
  });
  net.classifierHead(x, 'fc', IMAGENET_CLASSES, IMAGENET_OUTPUT);
  graph.output(IMAGENET_OUTPUT, 'float32', ['N', IMAGENET_CLASSES]);
  return {
    config: imagenetRandomConfig(
      'resnet50-random',
      name,
      'ResNet-50 v1 architecture with random weights, for benchmarks (ImageNet input and output shapes).',
    ),
    labels: placeholderLabels(),
    graph,
    macs: net.macs,
  };
}

function bottleneck(net: ConvNet, x: FeatureMap, prefix: string, width: number, stride: number): FeatureMap {
  const out = width * EXPANSION;
  let y = net.relu(net.conv(x, `${prefix}.conv1`, { out: width, kernel: 1 }));
  y = net.relu(net.conv(y, `${prefix}.conv2`, { out: width, kernel: 3, stride }));
  y = net.conv(y, `${prefix}.conv3`, { out, kernel: 1, gain: RESIDUAL_GAIN });
  const shortcut =
    stride !== 1 || x.channels !== out ? net.conv(x, `${prefix}.downsample`, { out, kernel: 1, stride }) : x;
  return net.relu(net.add(y, shortcut));
}
