import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kerasSnakeCase } from './keras-weights.ts';

test('weights groups of .keras archives are named as Keras\' naming.to_snake_case names classes', () => {
  // The groups of tests/fixtures/keras/tiny_mobilenet.keras: conv2d, batch_normalization, re_lu, depthwise_conv2d, …
  const cases: [string, string][] = [
    ['Conv2D', 'conv2d'],
    ['BatchNormalization', 'batch_normalization'],
    ['ReLU', 're_lu'],
    ['DepthwiseConv2D', 'depthwise_conv2d'],
    ['SeparableConv2D', 'separable_conv2d'],
    ['GlobalAveragePooling2D', 'global_average_pooling2d'],
    ['ZeroPadding2D', 'zero_padding2d'],
    ['InputLayer', 'input_layer'],
    ['Functional', 'functional'],
  ];
  assert.deepEqual(cases.map(([c]) => kerasSnakeCase(c)), cases.map(([, s]) => s));
});
