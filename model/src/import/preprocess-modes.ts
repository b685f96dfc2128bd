/**
 * Keras' `preprocess_input` modes (keras.applications.imagenet_utils) as model-config values, so an
 * imported model is fed exactly as Keras feeds it, and `unit` for the x / 255 of models trained on
 * pixels rescaled outside them (ImageDataGenerator(rescale=1./255), the most common Keras tutorial
 * recipe, which no preprocess_input mode gives). Values are 0–255 RGB pixels before the mode.
 */
import type { ModelConfig } from '../repository/model-config.ts';

export type PreprocessMode = 'caffe' | 'tf' | 'torch' | 'unit' | 'none';

export const PREPROCESS_MODES: readonly PreprocessMode[] = ['caffe', 'tf', 'torch', 'unit', 'none'];

export interface PreprocessValues {
  channels: ModelConfig['input']['channels'];
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

const MODES: Record<PreprocessMode, PreprocessValues> = {
  // RGB→BGR, then minus the ImageNet mean per BGR channel; no scaling (ResNet50, VGG).
  caffe: { channels: 'BGR', scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] },
  // x / 127.5 − 1, i.e. [-1, 1] (MobileNet, Inception, Xception).
  tf: { channels: 'RGB', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1] },
  // x / 255, then (x − mean) / std per RGB channel (DenseNet, and torchvision models).
  torch: { channels: 'RGB', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  // x / 255, i.e. [0, 1], nothing else.
  unit: { channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  // Raw 0–255 pixels: the model scales them itself (a Rescaling layer at its input).
  none: { channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
};

export function preprocessValues(mode: PreprocessMode): PreprocessValues {
  return MODES[mode];
}

export function isPreprocessMode(value: string): value is PreprocessMode {
  return (PREPROCESS_MODES as readonly string[]).includes(value);
}
