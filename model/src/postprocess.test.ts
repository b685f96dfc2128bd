import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { softmax, topK } from './postprocess.ts';

const approx = (actual: ArrayLike<number>, expected: number[], tol = 1e-6) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
};
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('softmax', () => {
  test('exp(x)/Σexp on logits 0, ln 2, ln 3: e^x = 1, 2, 3 → 1/6, 2/6, 3/6', () => {
    const p = softmax([0, Math.log(2), Math.log(3)]);
    assert.ok(p instanceof Float32Array);
    approx(p, [1 / 6, 2 / 6, 3 / 6]);
    approx([sum(p)], [1]);
  });

  test('equal logits give a uniform distribution', () => {
    approx(softmax([5, 5, 5, 5]), [0.25, 0.25, 0.25, 0.25]);
  });

  test('huge logits stay finite: [1000, 1001] = [1/(1+e), e/(1+e)]', () => {
    const p = softmax([1000, 1001]);
    // e = 2.718281828; 1/(1+e) = 0.268941421; e/(1+e) = 0.731058579
    approx(p, [0.268941421, 0.731058579]);
    assert.ok(p.every(Number.isFinite));
  });

  test('very negative logits: [-1000, 0] → [~0, 1]', () => {
    const p = softmax([-1000, 0]);
    approx(p, [0, 1]);
    assert.ok(p.every(Number.isFinite));
  });

  test('sums to 1 on many classes', () => {
    const logits = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 20);
    const p = softmax(logits);
    assert.ok(Math.abs(sum(p) - 1) < 1e-5, String(sum(p)));
    assert.ok(p.every((v) => v >= 0 && v <= 1));
  });
});

describe('topK', () => {
  const labels = ['a', 'b', 'c', 'd', 'e'];

  test('best first', () => {
    assert.deepEqual(topK([0.1, 0.05, 0.6, 0.2, 0.05], labels, 3), [
      { label: 'c', score: 0.6 },
      { label: 'd', score: 0.2 },
      { label: 'a', score: 0.1 },
    ]);
  });

  test('ties keep class order', () => {
    assert.deepEqual(topK([0.1, 0.3, 0.2, 0.3, 0.1], labels, 5), [
      { label: 'b', score: 0.3 },
      { label: 'd', score: 0.3 },
      { label: 'c', score: 0.2 },
      { label: 'a', score: 0.1 },
      { label: 'e', score: 0.1 },
    ]);
  });

  test('k larger than the number of classes returns every class', () => {
    const r = topK([0.2, 0.8], ['x', 'y'], 10);
    assert.deepEqual(r, [
      { label: 'y', score: 0.8 },
      { label: 'x', score: 0.2 },
    ]);
  });

  test('k = 0 returns nothing', () => {
    assert.deepEqual(topK([0.2, 0.8], ['x', 'y'], 0), []);
  });

  test('classes without a label are named class_<index>', () => {
    assert.deepEqual(topK([0.1, 0.2, 0.7], ['x', 'y'], 2), [
      { label: 'class_2', score: 0.7 },
      { label: 'y', score: 0.2 },
    ]);
  });

  test('works on a Float32Array and does not reorder it', () => {
    const scores = new Float32Array([0.25, 0.5, 0.125]);
    assert.deepEqual(topK(scores, ['x', 'y', 'z'], 1), [{ label: 'y', score: 0.5 }]);
    assert.deepEqual(Array.from(scores), [0.25, 0.5, 0.125]);
  });
});
