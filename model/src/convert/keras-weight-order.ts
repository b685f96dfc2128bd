/**
 * Keras files store a layer's weights as an ordered list (`vars/0, 1, …` in `.keras`, the
 * `weight_names` order in `.h5`), and Keras itself loads them by position: names differ between
 * versions (`kernel:0` or `kernel`; a depthwise kernel is `depthwise_kernel` in Keras 2 and
 * `kernel` in Keras 3). This module gives each position the name the layer converters ask for.
 */
import { ConversionError } from './conversion-error.ts';
import type { KerasLayer } from './keras-topology.ts';
import type { DecodedWeight } from './tfjs-weights.ts';

/** A stored array before it is named. */
export interface StoredWeight {
  shape: number[];
  values: Float32Array;
}

const useBias = (layer: KerasLayer): string[] => (layer.config['use_bias'] === false ? [] : ['bias']);

const ORDER: Record<string, (layer: KerasLayer) => string[]> = {
  Conv2D: (l) => ['kernel', ...useBias(l)],
  Dense: (l) => ['kernel', ...useBias(l)],
  DepthwiseConv2D: (l) => ['depthwise_kernel', ...useBias(l)],
  SeparableConv2D: (l) => ['depthwise_kernel', 'pointwise_kernel', ...useBias(l)],
  BatchNormalization: (l) => [
    ...(l.config['scale'] === false ? [] : ['gamma']),
    ...(l.config['center'] === false ? [] : ['beta']),
    'moving_mean',
    'moving_variance',
  ],
};

/** Parameter names of a layer in Keras' creation order; undefined when the class is not one this module knows. */
export function kerasWeightOrder(layer: KerasLayer): string[] | undefined {
  return ORDER[layer.className]?.(layer);
}

/**
 * Names a layer's stored weights `<prefix><layer>/<param>`. A layer whose class has no known
 * order keeps `<layer>/<index>` names: the converter then stops at that layer with its class named.
 *
 * @param where the file, for the error message
 */
export function nameLayerWeights(layer: KerasLayer, stored: StoredWeight[], where: string, prefix = ''): DecodedWeight[] {
  const order = kerasWeightOrder(layer);
  if (order === undefined) return stored.map((w, i) => ({ name: `${prefix}${layer.name}/${i}`, shape: w.shape, values: w.values }));
  if (order.length !== stored.length) {
    throw new ConversionError(
      `${where}: layer "${layer.name}" (class ${layer.className}) has ${stored.length} weight arrays, ` +
        `but its config implies ${order.length} (${order.join(', ') || 'none'})`,
    );
  }
  return stored.map((w, i) => ({ name: `${prefix}${layer.name}/${order[i]}`, shape: w.shape, values: w.values }));
}
