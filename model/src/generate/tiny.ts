/**
 * Tiny test fixtures whose answers are known in advance: logits = 8 × the mean of each
 * input channel, labels red/green/blue. `tiny-slow` computes exactly the same answer but
 * burns CPU on purpose, for tests that must kill a worker in the middle of a job.
 */
import type { ModelConfig } from '../repository/model-config.ts';
import { GraphBuilder } from '../onnx/onnx-builder.ts';
import { generatedProvenance, type GeneratedModel } from './generated-model.ts';
import { heUniform, mulberry32, seedFromString } from './random.ts';

export const TINY_SIZE = 32;
export const TINY_LABELS = ['red', 'green', 'blue'] as const;
/** logits = TINY_LOGIT_SCALE × channel means; 8 makes a pure red image clearly `red` after softmax. */
export const TINY_LOGIT_SCALE = 8;

/**
 * Dead-weight branch of tiny-slow: upsample 32→256, then SLOW_LAYERS 3×3 convs of SLOW_CHANNELS
 * channels that share one weight tensor (so the file stays small). About 9.7 G multiply-accumulates
 * per layer, ~60 G per image: about 0.65 s of CPU on one core of the dev machine (AMD EPYC);
 * older CPUs take longer. Tests should only rely on "clearly slower than tiny-rgb".
 */
const SLOW_UPSAMPLE = 8;
const SLOW_CHANNELS = 128;
const SLOW_LAYERS = 6;

/** Builds `tiny-rgb`, or `tiny-slow` (the same graph plus a dead-weight branch added to the logits). */
export function buildTiny(kind: 'tiny-rgb' | 'tiny-slow', name: string = kind): GeneratedModel {
  const graph = new GraphBuilder();
  const image = graph.input('image', 'float32', ['N', 3, TINY_SIZE, TINY_SIZE]);
  const identity = eye(3, 1);
  const convW = graph.initializer('conv.weight', [3, 3, 1, 1], identity);
  const convB = graph.initializer('conv.bias', [3], new Float32Array(3));
  const conv = graph.op('Conv', [image, convW, convB], { kernel_shape: [1, 1] });
  const relu = graph.op('Relu', [conv]);
  const pooled = graph.op('GlobalAveragePool', [relu]);
  const flat = graph.op('Flatten', [pooled], { axis: 1 });
  const gemmB = graph.initializer('fc.weight', [3, 3], eye(3, TINY_LOGIT_SCALE));
  const gemmC = graph.initializer('fc.bias', [3], new Float32Array(3));
  if (kind === 'tiny-rgb') {
    graph.op('Gemm', [flat, gemmB, gemmC], {}, 'logits');
  } else {
    const logits = graph.op('Gemm', [flat, gemmB, gemmC]);
    const zero = deadWeightZero(graph, image);
    graph.op('Add', [logits, zero], {}, 'logits');
  }
  graph.output('logits', 'float32', ['N', 3]);
  return { config: tinyConfig(kind, name), labels: [...TINY_LABELS], graph, macs: 0 };
}

/**
 * An expensive computation whose result is an exact zero per image, shape [N, 1].
 * The zero is m·(m − m) with m computed from the data: a constant 0 would let ONNX Runtime's
 * constant folding and dead-branch elimination throw the whole branch away.
 */
function deadWeightZero(graph: GraphBuilder, image: string): string {
  const rng = mulberry32(seedFromString('tiny-slow'));
  const scales = graph.initializer('slow.scales', [4], new Float32Array([1, 1, SLOW_UPSAMPLE, SLOW_UPSAMPLE]));
  let x = graph.op('Resize', [image, '', scales], { mode: 'nearest' });
  const conv3x3 = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
  const stemW = graph.initializer('slow.stem.weight', [SLOW_CHANNELS, 3, 3, 3], heUniform(rng, SLOW_CHANNELS * 27, 27));
  x = graph.op('Relu', [graph.op('Conv', [x, stemW], conv3x3)]);
  const fanIn = SLOW_CHANNELS * 9;
  const sharedW = graph.initializer(
    'slow.shared.weight',
    [SLOW_CHANNELS, SLOW_CHANNELS, 3, 3],
    heUniform(rng, SLOW_CHANNELS * fanIn, fanIn),
  );
  for (let i = 0; i < SLOW_LAYERS; i++) x = graph.op('Relu', [graph.op('Conv', [x, sharedW], conv3x3)]);
  const mean = graph.op('ReduceMean', [x], { axes: [1, 2, 3], keepdims: 1 });
  const m = graph.op('Flatten', [mean], { axis: 1 });
  const zero = graph.op('Sub', [m, m]);
  return graph.op('Mul', [m, zero]);
}

/** n×n identity times `scale`, flat row-major. */
function eye(n: number, scale: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = scale;
  return out;
}

function tinyConfig(kind: 'tiny-rgb' | 'tiny-slow', name: string): ModelConfig {
  return {
    name,
    version: '1',
    description:
      kind === 'tiny-rgb'
        ? 'Test fixture: logits = 8 × mean of each RGB channel (labels red, green, blue).'
        : 'Test fixture: same answers as tiny-rgb, but each inference deliberately takes several hundred milliseconds (0.3–0.6 s on a 2-core VM).',
    file: 'model.onnx',
    input: { name: 'image', layout: 'NCHW', dtype: 'float32', width: TINY_SIZE, height: TINY_SIZE, channels: 'RGB' },
    preprocess: {
      resize: 'stretch',
      interpolation: 'bilinear',
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    },
    output: { name: 'logits', kind: 'logits' },
    labels: { file: 'labels.txt', display: 'raw' },
    batch: 'dynamic',
    provenance: generatedProvenance(kind),
  };
}
