import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../engine/ort-telemetry-off.ts'; // before onnxruntime-node: telemetry off
import * as ort from 'onnxruntime-node';
import { GraphBuilder, float32ToFloat16, summariseOnnx } from './onnx-builder.ts';

/** x: [N,1,3,3]; Conv 2×2 (2 filters, one negative so Relu matters) → Relu → GAP → Flatten → Gemm → Softmax; plus Add. */
function buildSmallNet(): GraphBuilder {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 1, 3, 3]);
  const w = b.initializer('w', [2, 1, 2, 2], new Float32Array([1, 0, 0, 1, -1, 0, 0, 0]));
  const bias = b.initializer('bias', [2], new Float32Array([0, 3]));
  const conv = b.op('Conv', [x, w, bias], { kernel_shape: [2, 2], strides: [1, 1] });
  const relu = b.op('Relu', [conv]);
  const pooled = b.op('GlobalAveragePool', [relu]);
  const flat = b.op('Flatten', [pooled], { axis: 1 });
  const gemmB = b.initializer('gemm_b', [2, 3], new Float32Array([1, 0, 2, 0, 1, -1]));
  const gemmC = b.initializer('gemm_c', [3], new Float32Array([0.5, 0, 0]));
  // Gemm's alpha/beta are floats in the spec: written as FLOAT whether or not wrapped in { float }.
  const gemm = b.op('Gemm', [flat, gemmB, gemmC], { alpha: { float: 2 }, beta: 1 });
  b.node('Softmax', [gemm], { axis: 1 }, { outputs: ['probs'] });
  b.output('probs', 'float32', ['N', 3]);
  const ten = b.initializer('ten', [1], new Float32Array([10]));
  const sum = b.op('Add', [x, ten], {}, 'sum');
  b.output(sum, 'float32', ['N', 1, 3, 3]);
  return b;
}

test('generated names are deterministic and unique', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1]);
  assert.equal(b.op('Relu', [x]), 'Relu_0');
  b.initializer('Relu_1', [1], new Float32Array([1]));
  assert.equal(b.op('Relu', [x]), 'Relu_2', 'skips names already taken');
  assert.deepEqual(b.node('Split', [x], { axis: 0 }, { outputs: 2 }), ['Split_0_0', 'Split_0_1']);
  assert.deepEqual(buildSmallNet().toBytes('g'), buildSmallNet().toBytes('g'), 'same calls, same bytes');
});

test('mistakes fail at the call that makes them', () => {
  const b = new GraphBuilder();
  b.input('x', 'float32', [1]);
  assert.throws(() => b.op('Relu', ['nope']), /input "nope" is not defined/);
  assert.throws(() => b.input('x', 'float32', [1]), /already defined/);
  assert.throws(() => b.initializer('w', [2, 2], new Float32Array(3)), /3 values but dims \[2,2\] need 4/);
  assert.throws(() => b.op('Transpose', ['x'], { perm: [0.5] }), /use \{ floats/);
  assert.throws(() => b.op('Relu', ['x'], {}, 'x'), /Relu output "x" is already defined/);
  b.output('y', 'float32');
  assert.throws(() => b.toBytes(), /output "y" is never produced/);
});

test('float16 conversion rounds to nearest even', () => {
  assert.deepEqual(
    [...float32ToFloat16([1, -2, 65504, 1e6, 0, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11])],
    [0x3c00, 0xc000, 0x7bff, 0x7c00, 0, 0x0001, 0x3c00, 0x3c02],
  );
});

test('a built graph runs in ONNX Runtime and gives the hand-computed answer', async () => {
  const bytes = buildSmallNet().toBytes('small-net');
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual([...session.inputNames], ['x']);
  assert.deepEqual([...session.outputNames].sort(), ['probs', 'sum']);

  // Two images so the symbolic batch dimension is exercised.
  const images = [
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
    [0, 0, 0, 0, 1, 0, 0, 0, 0],
  ];
  const x = new ort.Tensor('float32', Float32Array.from(images.flat()), [2, 1, 3, 3]);
  const result = await session.run({ x });

  // Hand computation. Image 1: filter 0 sums the two diagonal taps: 1+5, 2+6, 4+8, 5+9 → mean 10;
  // filter 1 is -top-left + 3: 2, 1, -1→0, -2→0 after Relu → mean 0.75.
  // Gemm: 2·[10, 0.75]·B + C = [20.5, 1.5, 38.5]. Image 2: filter 0 → [1,0,0,1] mean 0.5;
  // filter 1 → [3,3,3,2] mean 2.75; Gemm: [1.5, 5.5, -3.5].
  const logits = [
    [20.5, 1.5, 38.5],
    [1.5, 5.5, -3.5],
  ];
  const softmax = (v: number[]): number[] => {
    const m = Math.max(...v);
    const e = v.map((z) => Math.exp(z - m));
    const s = e.reduce((a, c) => a + c, 0);
    return e.map((z) => z / s);
  };
  const expected = logits.flatMap(softmax);
  const probs = result.probs!;
  assert.deepEqual(probs.dims, [2, 3]);
  const got = probs.data as Float32Array;
  expected.forEach((p, i) => assert.ok(Math.abs(got[i]! - p) < 1e-6, `probs[${i}] = ${got[i]}, expected ${p}`));

  const sum = result.sum!;
  assert.deepEqual(sum.dims, [2, 1, 3, 3]);
  assert.deepEqual([...(sum.data as Float32Array)], images.flat().map((v) => v + 10));
  await session.release();
});

test('int64 initializers and int attributes round-trip through ONNX Runtime', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const shape = b.initializer('shape', [2], [3, 2]);
  const reshaped = b.op('Reshape', [x, shape]);
  const transposed = b.op('Transpose', [reshaped], { perm: [1, 0] }, 'y');
  b.output(transposed, 'float32', [2, 3]);
  const session = await ort.InferenceSession.create(b.toBytes());
  const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]) });
  assert.deepEqual(y!.dims, [2, 3]);
  assert.deepEqual([...(y!.data as Float32Array)], [0, 2, 4, 1, 3, 5]);
  await session.release();
});

test('summariseOnnx reads back what the builder wrote', () => {
  const summary = summariseOnnx(buildSmallNet().toBytes('small-net'));
  assert.deepEqual(summary, {
    irVersion: 8,
    opset: 13,
    producer: 'image-classifier',
    graphName: 'small-net',
    inputs: ['x'],
    outputs: ['probs', 'sum'],
    nodeCount: 7,
    parameterCount: 8 + 2 + 6 + 3 + 1,
    opTypes: { Conv: 1, Relu: 1, GlobalAveragePool: 1, Flatten: 1, Gemm: 1, Softmax: 1, Add: 1 },
  });
});
