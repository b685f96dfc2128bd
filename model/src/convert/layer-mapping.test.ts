/**
 * Unit tests of individual mappings (TF padding, weight layouts, BN folding) and small
 * end-to-end checks: tiny TF.js models that exercise every supported layer/op kind are converted
 * and must give TF.js's outputs in ONNX Runtime. Unsupported layers must fail clearly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversionError } from './conversion-error.ts';
import {
  layersModelArtifacts,
  loadTfjsModel,
  maxAbsDiff,
  ortSession,
  predictOrt,
  predictTfjs,
  seededUniform,
  useTfjsCpu,
} from '../../test/parity-support.ts';
import { tfAxisPadding, tfSpatialPadding } from './tf-padding.ts';
import type { TfjsModelJson, TfNodeDef, WeightSpec } from './tfjs-model-json.ts';
import { convertTfjsModel } from './tfjs-to-onnx.ts';
import { batchNormScaleShift, depthwiseToOnnx, foldScaleShift, hwioToOihw } from './weight-layout.ts';

describe('TF padding', () => {
  it("'same' with stride 2 puts the odd pixel after (asymmetric)", () => {
    assert.deepEqual(tfAxisPadding('same', 224, 3, 2), { before: 0, after: 1, out: 112 });
    assert.deepEqual(tfAxisPadding('same', 6, 3, 2), { before: 0, after: 1, out: 3 });
  });

  it("'same' is symmetric when the total is even", () => {
    assert.deepEqual(tfAxisPadding('same', 225, 3, 2), { before: 1, after: 1, out: 113 });
    assert.deepEqual(tfAxisPadding('same', 35, 3, 1), { before: 1, after: 1, out: 35 });
    assert.deepEqual(tfAxisPadding('same', 17, 7, 1), { before: 3, after: 3, out: 17 });
  });

  it("'same' with an even kernel and stride 1 pads one more after", () => {
    assert.deepEqual(tfAxisPadding('same', 10, 2, 1), { before: 0, after: 1, out: 10 });
  });

  it("'same' never pads negatively and accounts for dilation", () => {
    assert.deepEqual(tfAxisPadding('same', 7, 1, 2), { before: 0, after: 0, out: 4 });
    assert.deepEqual(tfAxisPadding('same', 10, 3, 1, 2), { before: 2, after: 2, out: 10 });
  });

  it("'valid' floors the output size", () => {
    assert.deepEqual(tfAxisPadding('valid', 299, 3, 2), { before: 0, after: 0, out: 149 });
    assert.deepEqual(tfAxisPadding('valid', 8, 8, 8), { before: 0, after: 0, out: 1 });
  });

  it('handles height and width separately', () => {
    const r = tfSpatialPadding('same', [17, 17], [7, 1], [1, 1]);
    assert.deepEqual(r, { pads: { top: 3, bottom: 3, left: 0, right: 0 }, outHW: [17, 17] });
  });
});

describe('weight layouts', () => {
  it('HWIO → OIHW moves every value to its ONNX position', () => {
    const [kh, kw, ci, co] = [2, 3, 4, 5];
    const src = Float32Array.from({ length: kh * kw * ci * co }, (_, i) => i);
    const out = hwioToOihw(src, [kh, kw, ci, co]);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++) {
            assert.equal(out[((o * ci + i) * kh + y) * kw + x], src[((y * kw + x) * ci + i) * co + o]);
          }
  });

  it('depthwise [kh,kw,in,mult] → [in*mult,1,kh,kw] numbers outputs channel*mult + m', () => {
    const [kh, kw, ci, mult] = [3, 3, 2, 2];
    const src = Float32Array.from({ length: kh * kw * ci * mult }, (_, i) => i);
    const out = depthwiseToOnnx(src, [kh, kw, ci, mult]);
    // Output channel 3 = input channel 1, multiplier 1; its top-left tap is src[(0*kw+0)*ci*mult + 1*mult + 1].
    assert.equal(out[3 * kh * kw], src[1 * mult + 1]);
    assert.equal(out[3 * kh * kw + kh * kw - 1], src[((kh - 1) * kw + (kw - 1)) * ci * mult + 1 * mult + 1]);
  });
});

describe('batch-norm folding', () => {
  it('scale/shift equal (x - mean) / sqrt(var + eps) * gamma + beta', () => {
    const bn = { gamma: [2, 0.5], beta: [1, -1], mean: [3, -2], variance: [4, 0.25], epsilon: 1e-3 };
    const { scale, shift } = batchNormScaleShift(bn);
    for (const x of [-1.5, 0, 2.25]) {
      for (let c = 0; c < 2; c++) {
        const expected = ((x - bn.mean[c]!) / Math.sqrt(bn.variance[c]! + bn.epsilon)) * bn.gamma[c]! + bn.beta[c]!;
        assert.ok(Math.abs(x * scale[c]! + shift[c]! - expected) < 1e-12);
      }
    }
  });

  it('missing gamma/beta (scale=false, center=false) mean 1 and 0', () => {
    const { scale, shift } = batchNormScaleShift({ mean: [1], variance: [3], epsilon: 1 });
    assert.equal(scale[0], 0.5);
    assert.equal(shift[0], -0.5);
  });

  it('a folded 1×1 conv computes BN(conv(x))', () => {
    const [ci, co] = [3, 2];
    const w = seededUniform(ci * co, 7).map((v) => v - 0.5); // ONNX [out, in]
    const b = Float32Array.from([0.1, -0.2]);
    const scale = [1.5, -0.25];
    const shift = [0.3, 2];
    const folded = foldScaleShift(w, b, scale, shift);
    const x = [0.2, -0.7, 1.1];
    for (let o = 0; o < co; o++) {
      let conv = b[o]!;
      let foldedConv = folded.bias[o]!;
      for (let i = 0; i < ci; i++) {
        conv += w[o * ci + i]! * x[i]!;
        foldedConv += folded.weight[o * ci + i]! * x[i]!;
      }
      assert.ok(Math.abs(foldedConv - (conv * scale[o]! + shift[o]!)) < 1e-6);
    }
  });
});

/** Replaces every weight with seeded random values (variances positive), so BN and biases matter. */
async function randomizeWeights(model: import('@tensorflow/tfjs').LayersModel, seed: number): Promise<void> {
  const tf = await useTfjsCpu();
  const values = model.weights.map((v, i) => {
    const shape = v.shape as number[];
    const r = seededUniform(shape.reduce((a, b) => a * b, 1), seed + i);
    const data = v.name.includes('moving_variance') ? r.map((x) => 0.5 + x) : r.map((x) => (x - 0.5) * 0.8);
    return tf.tensor(data, shape);
  });
  model.setWeights(values);
}

async function expectSameAsTfjs(modelJson: TfjsModelJson, weightData: Uint8Array, shape: number[], tolerance = 1e-5) {
  const converted = convertTfjsModel(modelJson, weightData);
  assert.deepEqual(converted.unusedWeights, []);
  const input = seededUniform(shape.reduce((a, b) => a * b, 1), 42);
  const session = await ortSession(converted.onnx);
  const onnxOut = await predictOrt(session, input, shape);
  const tfModel = await loadTfjsModel(modelJson, weightData);
  const tfOut = predictTfjs(tfModel, input, shape);
  const diff = maxAbsDiff(tfOut, onnxOut);
  assert.ok(diff < tolerance, `max |Δ| ${diff} ≥ ${tolerance}`);
  await session.release();
  return converted;
}

describe('tiny layers models convert exactly', () => {
  it('functional: padding, strided same/valid convs, depthwise, BN (folded and not), pools, concat, add, flatten, dense', async () => {
    const tf = await useTfjsCpu();
    const L = tf.layers;
    const input = tf.input({ shape: [12, 12, 3], name: 'image' });
    const pad = L.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(input);
    const c1 = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'c1' }).apply(pad);
    const bn1 = L.batchNormalization({ name: 'bn1' }).apply(c1);
    const r1 = L.reLU({ maxValue: 6, name: 'r1' }).apply(bn1);
    // 6×6 input, 'same', stride 2, kernel 3: TF pads 0 top/left and 1 bottom/right.
    const c2 = L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', name: 'c2_same_s2' }).apply(r1);
    const dw = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', name: 'dw' }).apply(c2);
    const bn2 = L.batchNormalization({ name: 'bn2', scale: false }).apply(dw);
    const act = L.activation({ activation: 'relu', name: 'act' }).apply(bn2);
    const mp = L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'mp' }).apply(act);
    const ap = L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'ap' }).apply(act);
    const cat = L.concatenate({ axis: -1, name: 'cat' }).apply([mp, ap] as never);
    const side = L.conv2d({ filters: 24, kernelSize: 1, activation: 'tanh', name: 'side' }).apply(act);
    const sum = L.add({ name: 'sum' }).apply([cat, side] as never);
    const bn3 = L.batchNormalization({ name: 'bn3_unfoldable' }).apply(sum);
    const flat = L.flatten({ name: 'flat' }).apply(bn3);
    const d1 = L.dense({ units: 8, activation: 'relu', name: 'd1' }).apply(flat);
    const drop = L.dropout({ rate: 0.5, name: 'drop' }).apply(d1);
    const out = L.dense({ units: 5, activation: 'softmax', name: 'probs' }).apply(drop);
    const model = tf.model({ inputs: input, outputs: out as never });
    await randomizeWeights(model, 100);
    const { modelJson, weightData } = await layersModelArtifacts(model);
    const converted = await expectSameAsTfjs(modelJson, weightData, [2, 12, 12, 3]);
    assert.equal(converted.output.kind, 'probabilities');
    assert.deepEqual([converted.input.height, converted.input.width, converted.output.classes], [12, 12, 5]);
  });

  it('sequential: relu6 conv, global pooling, leaky relu, reshape, softmax layer → logits after flatten', async () => {
    const tf = await useTfjsCpu();
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu6', name: 'conv' }),
        L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pool' }),
        L.globalAveragePooling2d({ name: 'gap' }),
        L.dense({ units: 6, name: 'dense' }),
        L.leakyReLU({ alpha: 0.1, name: 'leaky' }),
        L.reshape({ targetShape: [2, 3], name: 'reshape' }),
        L.softmax({ axis: -1, name: 'softmax' }),
        L.flatten({ name: 'flatten' }),
      ],
    });
    await randomizeWeights(model, 200);
    const { modelJson, weightData } = await layersModelArtifacts(model);
    const converted = await expectSameAsTfjs(modelJson, weightData, [3, 8, 8, 3]);
    assert.equal(converted.output.kind, 'logits');
    assert.equal(converted.output.name, 'logits');
  });

  it('zero padding before convs (absorbed) and pools (a real Pad that ORT must not fuse away), next to the unpadded value', async () => {
    const tf = await useTfjsCpu();
    const L = tf.layers;
    const input = tf.input({ shape: [7, 7, 3] });
    // tanh gives negative values, where zero padding and pool padding differ.
    const features = L.conv2d({ filters: 3, kernelSize: 1, activation: 'tanh', name: 'signed' }).apply(input);
    const pad = L.zeroPadding2d({ padding: [[1, 2], [0, 1]], name: 'pad' }).apply(features);
    const conv = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: 'conv_on_pad' }).apply(pad);
    const maxPool = L.maxPooling2d({ poolSize: 2, name: 'max_on_pad' }).apply(pad);
    // A Pad with a single pool consumer is what ORT's PadFusion would rewrite.
    const pad2 = L.zeroPadding2d({ padding: 1, name: 'pad2' }).apply(features);
    const avgPool = L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avg_on_pad' }).apply(pad2);
    const plain = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_on_unpadded' }).apply(features);
    const branches = [conv, maxPool, avgPool, plain].map((t, i) => L.flatten({ name: `flat${i}` }).apply(t));
    const cat = L.concatenate({ name: 'cat' }).apply(branches as never);
    const out = L.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(cat);
    const model = tf.model({ inputs: input, outputs: out as never });
    await randomizeWeights(model, 400);
    const { modelJson, weightData } = await layersModelArtifacts(model);
    await expectSameAsTfjs(modelJson, weightData, [2, 7, 7, 3]);
  });

  it('a model nested inside a functional model', async () => {
    const tf = await useTfjsCpu();
    const L = tf.layers;
    const inner = tf.sequential({
      name: 'backbone',
      layers: [
        L.conv2d({ inputShape: [6, 6, 3], filters: 3, kernelSize: 3, strides: 2, padding: 'same', name: 'inner_conv' }),
        L.batchNormalization({ name: 'inner_bn' }),
        L.globalMaxPooling2d({ name: 'inner_gmp' }),
      ],
    });
    const input = tf.input({ shape: [6, 6, 3] });
    const features = inner.apply(input) as never;
    const out = L.dense({ units: 4, activation: 'softmax', name: 'head' }).apply(features);
    const model = tf.model({ inputs: input, outputs: out as never });
    await randomizeWeights(model, 300);
    const { modelJson, weightData } = await layersModelArtifacts(model);
    await expectSameAsTfjs(modelJson, weightData, [2, 6, 6, 3]);
  });
});

describe('unsupported layers fail clearly', () => {
  it('names the layer and its class', async () => {
    const tf = await useTfjsCpu();
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1, name: 'conv' }),
        L.upSampling2d({ size: [2, 2], name: 'upsample' }),
        L.flatten({ name: 'flat' }),
      ],
    });
    const { modelJson, weightData } = await layersModelArtifacts(model);
    assert.throws(
      () => convertTfjsModel(modelJson, weightData),
      (err: unknown) =>
        err instanceof ConversionError &&
        /layer "upsample" \(class UpSampling2D\)/.test(err.message) &&
        /not supported/.test(err.message) &&
        /Conv2D/.test(err.message),
    );
  });

  it('names the layer when its activation is unknown', async () => {
    const tf = await useTfjsCpu();
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [3], units: 2, name: 'odd_dense' })],
    });
    const { modelJson, weightData } = await layersModelArtifacts(model);
    const topology = modelJson.modelTopology as { config: { layers: { config: Record<string, unknown> }[] } };
    topology.config.layers.at(-1)!.config['activation'] = 'mish';
    assert.throws(() => convertTfjsModel(modelJson, weightData), /layer "odd_dense" \(class Dense\): activation "mish" is not supported/);
  });
});

/** A hand-written GraphDef in TF.js's JSON form, with its float32 weights. */
function graphModel(nodes: TfNodeDef[], consts: { name: string; shape: number[]; values: Float32Array }[]) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const constNodes: TfNodeDef[] = consts.map((c) => ({
    name: c.name,
    op: 'Const',
    attr: {
      value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: c.shape.map((d) => ({ size: String(d) })) } } },
      dtype: { type: 'DT_FLOAT' },
    },
  }));
  const weights: WeightSpec[] = consts.map((c) => ({ name: c.name, shape: c.shape, dtype: 'float32' }));
  const data = new Uint8Array(consts.reduce((n, c) => n + c.values.byteLength, 0));
  let offset = 0;
  for (const c of consts) {
    data.set(new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength), offset);
    offset += c.values.byteLength;
  }
  const modelJson: TfjsModelJson = {
    format: 'graph-model',
    modelTopology: { node: [...constNodes, ...nodes], versions: { producer: 175 } },
    weightsManifest: [{ paths: ['w'], weights }],
  };
  return { modelJson, weightData: data, b64 };
}

function tinyGraph(extra: TfNodeDef[] = [], outputInput = 'probs') {
  const s = (v: string) => ({ s: Buffer.from(v).toString('base64') });
  const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
  const T = { T: { type: 'DT_FLOAT' } };
  const rnd = (shape: number[], seed: number) => ({
    shape,
    values: seededUniform(shape.reduce((a, b) => a * b, 1), seed).map((v) => v - 0.5),
  });
  const consts = [
    { name: 'two', shape: [], values: Float32Array.from([2]) },
    { name: 'one', shape: [], values: Float32Array.from([1]) },
    { name: 'w1', ...rnd([3, 3, 3, 4], 1) },
    { name: 'b1', ...rnd([4], 2) },
    { name: 'dw', ...rnd([3, 3, 4, 1], 3) },
    { name: 'db', ...rnd([4], 4) },
    { name: 'mw', ...rnd([4, 5], 5) },
    { name: 'mb', ...rnd([5], 6) },
  ];
  const conv = { ...T, data_format: s('NHWC'), dilations: ints(1, 1, 1, 1), padding: s('SAME'), num_args: { i: '1' } };
  const nodes: TfNodeDef[] = [
    { name: 'input', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '10' }, { size: '10' }, { size: '3' }] } }, dtype: { type: 'DT_FLOAT' } } },
    { name: 'scaled', op: 'Mul', input: ['two', 'input'], attr: T },
    { name: 'centred', op: 'Sub', input: ['scaled', 'one'], attr: T },
    // 10×10, SAME, stride 2: TF pads 0 before and 1 after.
    { name: 'conv', op: '_FusedConv2D', input: ['centred', 'w1', 'b1'], attr: { ...conv, strides: ints(1, 2, 2, 1), fused_ops: { list: { s: ['BiasAdd', 'Relu6'].map((v) => s(v).s) } } } },
    { name: 'dwconv', op: 'FusedDepthwiseConv2dNative', input: ['conv', 'dw', 'db'], attr: { ...conv, strides: ints(1, 1, 1, 1), fused_ops: { list: { s: ['BiasAdd', 'Relu'].map((v) => s(v).s) } } } },
    { name: 'sum', op: 'AddV2', input: ['conv', 'dwconv'], attr: T },
    { name: 'pool', op: 'AvgPool', input: ['sum'], attr: { ...T, ksize: ints(1, 5, 5, 1), strides: ints(1, 1, 1, 1), padding: s('VALID'), data_format: s('NHWC') } },
    { name: 'squeeze', op: 'Squeeze', input: ['pool'], attr: { ...T, squeeze_dims: ints(1, 2) } },
    { name: 'logits', op: '_FusedMatMul', input: ['squeeze', 'mw', 'mb'], attr: { ...T, transpose_a: { b: false }, transpose_b: { b: false }, num_args: { i: '1' }, fused_ops: { list: { s: [s('BiasAdd').s] } } } },
    { name: 'probs', op: 'Softmax', input: ['logits'], attr: T },
    ...extra,
    { name: 'Identity', op: 'Identity', input: [outputInput], attr: T },
  ];
  return graphModel(nodes, consts);
}

describe('tiny graph models convert exactly', () => {
  it('scaling, fused conv/depthwise (asymmetric SAME), add, avg pool, squeeze, fused matmul, softmax', async () => {
    const { modelJson, weightData } = tinyGraph();
    const converted = await expectSameAsTfjs(modelJson, weightData, [2, 10, 10, 3]);
    assert.equal(converted.output.kind, 'probabilities');
  });

  it('names the node and op it cannot convert', () => {
    const { modelJson, weightData } = tinyGraph([{ name: 'weird', op: 'Cumsum', input: ['probs', 'one'] }], 'weird');
    assert.throws(() => convertTfjsModel(modelJson, weightData), /layer "weird" \(class Cumsum\): this op is not supported/);
  });
});
