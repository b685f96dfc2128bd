import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../repository/model-config.ts';
import type { RgbPixels } from '../image/image.ts';
import { pixelsToTensor } from './pixels-to-tensor.ts';

type Cfg = Pick<ModelConfig, 'input' | 'preprocess'>;

function cfg(input: Partial<Cfg['input']>, pre: Partial<Cfg['preprocess']> = {}): Cfg {
  return {
    input: { name: 'x', layout: 'NCHW', dtype: 'float32', width: 3, height: 2, channels: 'RGB', ...input },
    preprocess: {
      resize: 'stretch',
      interpolation: 'bilinear',
      scale: 1,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      ...pre,
    },
  };
}

/**
 * 3 wide × 2 high, interleaved RGB, row-major:
 *   (x0,y0) 10 20 30   (x1,y0) 40 50 60   (x2,y0) 70 80 90
 *   (x0,y1) 100 110 120 (x1,y1) 130 140 150 (x2,y1) 160 170 180
 */
const px3x2: RgbPixels = {
  width: 3,
  height: 2,
  data: Buffer.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180]),
};

const approx = (actual: ArrayLike<number>, expected: number[], tol: number) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
};

describe('pixelsToTensor', () => {
  test('NCHW, RGB, identity: three planes R, G, B; dims [1, 3, h, w]', () => {
    const t = pixelsToTensor(px3x2, cfg({ layout: 'NCHW' }));
    assert.equal(t.dtype, 'float32');
    assert.ok(t.data instanceof Float32Array);
    assert.deepEqual(t.dims, [1, 3, 2, 3]);
    assert.deepEqual(Array.from(t.data), [
      10, 40, 70, 100, 130, 160, // R plane
      20, 50, 80, 110, 140, 170, // G plane
      30, 60, 90, 120, 150, 180, // B plane
    ]);
    // element (c=1, y=1, x=2) sits at c*h*w + y*w + x = 1*6 + 1*3 + 2 = 11: G of pixel (2,1) = 170
    assert.equal(t.data[11], 170);
    // element (c=2, y=0, x=1) at 2*6 + 0 + 1 = 13: B of pixel (1,0) = 60
    assert.equal(t.data[13], 60);
  });

  test('NHWC, RGB, identity: interleaved as decoded; dims [1, h, w, 3]', () => {
    const t = pixelsToTensor(px3x2, cfg({ layout: 'NHWC' }));
    assert.deepEqual(t.dims, [1, 2, 3, 3]);
    assert.deepEqual(Array.from(t.data), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180]);
    // element (y=1, x=2, c=1) at (y*w + x)*3 + c = (3 + 2)*3 + 1 = 16: 170
    assert.equal(t.data[16], 170);
  });

  test('BGR swaps the first and last channel, in both layouts', () => {
    const nchw = pixelsToTensor(px3x2, cfg({ layout: 'NCHW', channels: 'BGR' }));
    assert.deepEqual(Array.from(nchw.data), [
      30, 60, 90, 120, 150, 180, // B plane first
      20, 50, 80, 110, 140, 170,
      10, 40, 70, 100, 130, 160,
    ]);
    const nhwc = pixelsToTensor(px3x2, cfg({ layout: 'NHWC', channels: 'BGR' }));
    assert.deepEqual(Array.from(nhwc.data), [30, 20, 10, 60, 50, 40, 90, 80, 70, 120, 110, 100, 150, 140, 130, 180, 170, 160]);
  });

  test('scale 1/255 with ImageNet mean/std (torchvision style)', () => {
    // 2×1 image: pixel 0 = (0, 255, 51), pixel 1 = (255, 0, 102)
    const px: RgbPixels = { width: 2, height: 1, data: Buffer.from([0, 255, 51, 255, 0, 102]) };
    const t = pixelsToTensor(
      px,
      cfg({ width: 2, height: 1 }, { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
    );
    // R: (0 - 0.485)/0.229 = -2.117903930; (1 - 0.485)/0.229 = 0.515/0.229 = 2.248908297
    // G: (1 - 0.456)/0.224 = 0.544/0.224 = 2.428571429; (0 - 0.456)/0.224 = -2.035714286
    // B: 51/255 = 0.2 → (0.2 - 0.406)/0.225 = -0.206/0.225 = -0.915555556
    //    102/255 = 0.4 → (0.4 - 0.406)/0.225 = -0.006/0.225 = -0.026666667
    approx(t.data, [-2.11790393, 2.2489083, 2.42857143, -2.03571429, -0.91555556, -0.02666667], 1e-5);
  });

  test('Keras caffe mode gives NumPy float32 results bit for bit (the mean is rounded to float32 first)', () => {
    // 2×1 RGB (0, 128, 255), (17, 200, 3); expected values printed by NumPy 1.24 for
    // x[..., ::-1] then x[..., c] -= [103.939, 116.779, 123.68][c] on a float32 array (NHWC).
    const px = { width: 2, height: 1, data: Buffer.from([0, 128, 255, 17, 200, 3]) };
    const t = pixelsToTensor(px, cfg({ width: 2, height: 1, channels: 'BGR', layout: 'NHWC' }, { scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] }));
    assert.deepEqual(Array.from(t.data), [151.06100463867188, 11.221000671386719, -123.68000030517578, -100.93900299072266, 83.22100067138672, -106.68000030517578]);
  });

  test('caffe style: BGR, scale 1, mean [104, 117, 123] in BGR order', () => {
    const t = pixelsToTensor(px3x2, cfg({ channels: 'BGR' }, { scale: 1, mean: [104, 117, 123], std: [1, 1, 1] }));
    // channel 0 = B - 104: 30-104=-74, 60-104=-44, 90-104=-14, 120-104=16, 150-104=46, 180-104=76
    // channel 1 = G - 117: 20-117=-97, -67, -37, -7, 23, 53
    // channel 2 = R - 123: 10-123=-113, -83, -53, -23, 7, 37
    assert.deepEqual(Array.from(t.data), [-74, -44, -14, 16, 46, 76, -97, -67, -37, -7, 23, 53, -113, -83, -53, -23, 7, 37]);
  });

  test('float16 writes half bits into a Uint16Array', () => {
    // 2×1: pixel 0 = (2, 0, 1), pixel 1 = (4, 6, 255); scale 0.5, mean [0, 1, 0], std [1, 0.5, 1]
    const px: RgbPixels = { width: 2, height: 1, data: Buffer.from([2, 0, 1, 4, 6, 255]) };
    const t = pixelsToTensor(px, cfg({ width: 2, height: 1, dtype: 'float16' }, { scale: 0.5, mean: [0, 1, 0], std: [1, 0.5, 1] }));
    assert.equal(t.dtype, 'float16');
    assert.ok(t.data instanceof Uint16Array);
    // R: 2*0.5 = 1.0 → 0x3c00;  4*0.5 = 2.0 → 0x4000
    // G: (0*0.5 - 1)/0.5 = -2 → 0xc000;  (6*0.5 - 1)/0.5 = 4 → 0x4400
    // B: 1*0.5 = 0.5 → 0x3800;  255*0.5 = 127.5 = 1.9921875 × 2^6 → exp 6+15 = 21, mantissa 0.9921875*1024 = 1016
    //    → (21 << 10) | 1016 = 0x5400 | 0x3f8 = 0x57f8
    assert.deepEqual(Array.from(t.data), [0x3c00, 0x4000, 0xc000, 0x4400, 0x3800, 0x57f8]);
  });

  test('uint8 rounds and clamps to 0..255', () => {
    // 3×1: (0, 100, 255), (3, 7, 200), (250, 1, 10); scale 1, mean [-0.4, 0, 100], std [1, 2, 0.5], NHWC
    const px: RgbPixels = { width: 3, height: 1, data: Buffer.from([0, 100, 255, 3, 7, 200, 250, 1, 10]) };
    const t = pixelsToTensor(px, cfg({ width: 3, height: 1, dtype: 'uint8', layout: 'NHWC' }, { mean: [-0.4, 0, 100], std: [1, 2, 0.5] }));
    assert.equal(t.dtype, 'uint8');
    assert.ok(t.data instanceof Uint8Array);
    // pixel 0: R 0+0.4 = 0.4 → 0;   G 100/2 = 50;      B (255-100)/0.5 = 310 → clamped 255
    // pixel 1: R 3.4 → 3;           G 7/2 = 3.5 → 4;    B (200-100)/0.5 = 200
    // pixel 2: R 250.4 → 250;       G 1/2 = 0.5 → 1;    B (10-100)/0.5 = -180 → clamped 0
    assert.deepEqual(Array.from(t.data), [0, 50, 255, 3, 4, 200, 250, 1, 0]);
  });

  test('a wrong number of bytes is an error', () => {
    const short: RgbPixels = { width: 3, height: 2, data: px3x2.data.subarray(0, 17) };
    assert.throws(() => pixelsToTensor(short, cfg({})), /expected 18 RGB bytes, got 17/);
    const rgba: RgbPixels = { width: 3, height: 2, data: Buffer.alloc(24) };
    assert.throws(() => pixelsToTensor(rgba, cfg({})), /expected 18 RGB bytes, got 24/);
  });
});
