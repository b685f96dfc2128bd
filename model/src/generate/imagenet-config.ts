/** Config and labels shared by the random-weight ImageNet-shaped benchmark models. */
import { IMAGENET_TORCH_PREPROCESS, type ModelConfig } from '../repository/model-config.ts';
import { generatedProvenance, type GeneratedKind } from './generated-model.ts';

export const IMAGENET_CLASSES = 1000;
export const IMAGENET_SIZE = 224;
export const IMAGENET_INPUT = 'data';
export const IMAGENET_OUTPUT = 'logits';

/** `class_000` … `class_999`: the weights are random, so real class names would only mislead. */
export function placeholderLabels(count = IMAGENET_CLASSES): string[] {
  return Array.from({ length: count }, (_, i) => `class_${String(i).padStart(3, '0')}`);
}

/** Preprocessing of the ONNX Model Zoo ImageNet classifiers (torchvision normalisation). */
export function imagenetRandomConfig(kind: GeneratedKind, name: string, description: string): ModelConfig {
  return {
    name,
    version: '1',
    description,
    file: 'model.onnx',
    input: {
      name: IMAGENET_INPUT,
      layout: 'NCHW',
      dtype: 'float32',
      width: IMAGENET_SIZE,
      height: IMAGENET_SIZE,
      channels: 'RGB',
    },
    preprocess: IMAGENET_TORCH_PREPROCESS,
    output: { name: IMAGENET_OUTPUT, kind: 'logits' },
    labels: { file: 'labels.txt', display: 'raw' },
    batch: 'dynamic',
    provenance: generatedProvenance(kind, 'random weights: for benchmarks only, predictions are meaningless'),
  };
}
