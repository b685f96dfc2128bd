/**
 * The Keras Applications architectures written in code must be Keras' own. MobileNetV2 is checked
 * against a real Keras MobileNetV2: the backbone inside the nsfwjs package (same layer names), whose
 * weights must fit the code's layers exactly (every shape checked by the converter, none left over).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readKerasGraph } from '../convert/keras-topology.ts';
import { convertKerasModel } from '../convert/tfjs-layers-to-onnx.ts';
import { decodeWeights, type DecodedWeight } from '../convert/tfjs-weights.ts';
import { mobilenetV2Config, resnet50Config } from './keras-applications.ts';
import { readNsfwjsModel } from './nsfwjs-package.ts';

const count = (classes: string[], cls: string) => classes.filter((c) => c === cls).length;

describe('Keras Applications architectures', () => {
  test('ResNet50 has Keras\' 177 layers and layer names', () => {
    const { layers } = readKerasGraph(resnet50Config());
    const classes = layers.map((l) => l.className);
    assert.equal(layers.length, 177);
    assert.deepEqual([count(classes, 'Conv2D'), count(classes, 'BatchNormalization'), count(classes, 'Add')], [53, 53, 16]);
    assert.deepEqual(
      layers.slice(0, 8).map((l) => l.name),
      ['input_1', 'conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool', 'conv2_block1_0_conv'],
    );
    assert.deepEqual(layers.slice(-4).map((l) => l.name), ['conv5_block3_add', 'conv5_block3_out', 'avg_pool', 'predictions']);
  });

  test('MobileNetV2\'s layers take the weights of a real Keras MobileNetV2 (nsfwjs\'s backbone) exactly', async () => {
    const files = await readNsfwjsModel('mobilenet_v2');
    const decoded = decodeWeights(files.modelJson.weightsManifest, files.weightData);
    const config = mobilenetV2Config();
    const ours = new Set(readKerasGraph(config).layers.map((l) => l.name));
    const backbone = [...decoded].filter(([name]) => ours.has(name.split('/')[0]!));
    // nsfwjs replaced the ImageNet head; give ours one of the right shape.
    const head: [string, DecodedWeight][] = [
      ['predictions/kernel', { name: 'predictions/kernel', shape: [1280, 1000], values: new Float32Array(1280 * 1000) }],
      ['predictions/bias', { name: 'predictions/bias', shape: [1000], values: new Float32Array(1000) }],
    ];
    const others = [...decoded.keys()].filter((name) => !ours.has(name.split('/')[0]!));
    assert.ok(others.every((name) => /^dense_\d+\//.test(name)), `only nsfwjs's own head is left: ${others.join(', ')}`);
    assert.equal(backbone.length, 260, '52 convolutions and 52 batch norms (4 arrays each)');
    const converted = convertKerasModel(config, new Map([...backbone, ...head]));
    assert.deepEqual(converted.unusedWeights, []);
    assert.deepEqual([converted.input.height, converted.input.width, converted.output.classes], [224, 224, 1000]);
  });
});
