/**
 * Activations whose meaning depends on the Keras version, or that only Keras 3 models use, checked by
 * value through ONNX Runtime on a [N, 1, 1, 3] input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ortSession, predictOrt } from '../../test/parity-support.ts';
import { convertKerasModel } from './tfjs-layers-to-onnx.ts';

const X = [-4, -1, 0.5, 2.9, 4, -0.25];

/** Input → Activation → Flatten, in the Keras 3 form ({args, kwargs} nodes) or the Keras 2 form. */
function model(activation: string, keras3: boolean) {
  const call = (from: string) => (keras3 ? [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: [from, 0, 0] } }], kwargs: {} }] : [[[from, 0, 0, {}]]]);
  return {
    class_name: 'Functional',
    config: {
      name: 'act',
      layers: [
        { class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_shape: [null, 1, 1, 3] }, inbound_nodes: [] },
        { class_name: 'Activation', name: 'a', config: { name: 'a', activation }, inbound_nodes: call('in') },
        { class_name: 'Flatten', name: 'f', config: { name: 'f' }, inbound_nodes: call('a') },
      ],
      input_layers: [['in', 0, 0]],
      output_layers: [['f', 0, 0]],
    },
  };
}

async function run(activation: string, keras3: boolean): Promise<number[]> {
  const converted = convertKerasModel(model(activation, keras3), new Map());
  const session = await ortSession(converted.onnx);
  const out = await predictOrt(session, Float32Array.from(X), [2, 1, 1, 3]);
  await session.release();
  return Array.from(out);
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return Math.sign(x) * y;
}

const close = (got: number[], want: number[]) => got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `x=${X[i]}: ${g} vs ${want[i]}`));
const clip01 = (v: number) => Math.min(1, Math.max(0, v));

describe('Keras activations by value', () => {
  test('hard_sigmoid is 0.2x + 0.5 in Keras 2 configs and x/6 + 0.5 in Keras 3 ones', async () => {
    close(await run('hard_sigmoid', false), X.map((x) => clip01(0.2 * x + 0.5)));
    close(await run('hard_sigmoid', true), X.map((x) => clip01(x / 6 + 0.5)));
  });

  test('hard_silu (MobileNetV3) is x · relu6(x + 3) / 6', async () => {
    close(await run('hard_silu', true), X.map((x) => (x * Math.min(6, Math.max(0, x + 3))) / 6));
  });

  test('gelu is Keras\' exact form x/2 · (1 + erf(x/√2))', async () => {
    close(await run('gelu', true), X.map((x) => (x / 2) * (1 + erf(x / Math.SQRT2))));
  });
});
