import assert from 'node:assert/strict';
import { it } from 'node:test';
import { IMAGENET_TORCH_PREPROCESS, ModelConfigError, parseModelConfig } from './model-config.ts';

const valid = {
  name: 'm',
  input: { name: 'x', layout: 'NCHW', dtype: 'float32', width: 224, height: 224, channels: 'RGB' },
  preprocess: IMAGENET_TORCH_PREPROCESS,
  output: { name: 'y', kind: 'logits' },
  labels: { display: 'raw' },
  batch: 1,
};

/** The config with one field of one section replaced. */
const withField = (section: 'input' | 'preprocess' | 'output', field: string, value: unknown) => ({ ...valid, [section]: { ...valid[section], [field]: value } });

it('a field with a fixed set of values names the value found and the ones allowed', () => {
  const cases: [ReturnType<typeof withField>, RegExp][] = [
    [withField('input', 'layout', 'nchw'), /\/input\/layout: "nchw" is not one of "NCHW", "NHWC"$/m],
    [withField('input', 'dtype', 'float64'), /\/input\/dtype: "float64" is not one of "float32", "float16", "uint8"$/m],
    [withField('preprocess', 'interpolation', 'cubic'), /\/preprocess\/interpolation: "cubic" is not one of "nearest", "bilinear", "bicubic", "lanczos3"$/m],
    [withField('output', 'kind', 'softmax'), /\/output\/kind: "softmax" is not one of "logits", "probabilities"$/m],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => parseModelConfig(config, 'models/m/config.json'), (err: unknown) => {
      assert.ok(err instanceof ModelConfigError);
      assert.match(err.message, /^models\/m\/config\.json is not a valid model config:/);
      assert.match(err.message, message);
      return true;
    });
  }
  // A missing one says so; a long value is cut.
  const { layout: _layout, ...noLayout } = valid.input;
  assert.throws(() => parseModelConfig({ ...valid, input: noLayout }, 'c'), /\/input\/layout: nothing is not one of "NCHW", "NHWC"/);
  assert.throws(() => parseModelConfig(withField('output', 'kind', 'x'.repeat(100)), 'c'), /\/output\/kind: "x{59}… is not one of/);
  // Other problems keep TypeBox's words.
  assert.throws(() => parseModelConfig(withField('input', 'width', 0), 'c'), /\/input\/width: Expected integer to be greater or equal to 1/);
  assert.equal(parseModelConfig(valid, 'c').input.layout, 'NCHW');
});
