import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHalf, halfArrayToFloat32, toHalf } from './float16.ts';

const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('float16', () => {
  test('toHalf of exactly representable values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [1, 0x3c00], // exp 15 << 10
      [-2, 0xc000], // sign | (16 << 10)
      [0.5, 0x3800], // 14 << 10
      [2, 0x4000],
      [1.5, 0x3e00], // 15 << 10 | 512
      [65504, 0x7bff], // largest half: (2 - 2^-10) × 2^15
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [-(2 ** -24), 0x8001],
    ];
    for (const [v, bits] of cases) assert.equal(toHalf(v), bits, `toHalf(${v})`);
    assert.equal(toHalf(-0), 0x8000);
  });

  test('toHalf rounds inexact values to the nearest half', () => {
    // 1/3 = 1.333… × 2^-2: exp 13 → 0x3400, mantissa 0.333…×1024 = 341.33 → 341 = 0x155
    assert.equal(toHalf(1 / 3), 0x3555);
    // 0.1 = 1.6 × 2^-4: exp 11 → 0x2c00, mantissa 0.6×1024 = 614.4 → 614 = 0x266
    assert.equal(toHalf(0.1), 0x2e66);
    // 0.2 = 1.6 × 2^-3: exp 12 → 0x3000 | 0x266
    assert.equal(toHalf(0.2), 0x3266);
  });

  test('round to nearest, ties to even', () => {
    // halves near 1 are spaced 2^-10 apart
    assert.equal(toHalf(1 + 2 ** -11), 0x3c00); // tie between 0x3c00 and 0x3c01 → even 0x3c00
    assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02); // tie between 0x3c01 and 0x3c02 → even 0x3c02
    assert.equal(toHalf(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above the tie → up
    assert.equal(toHalf(1 + 2 ** -11 - 2 ** -20), 0x3c00); // just below the tie → down
    assert.equal(toHalf(-(1 + 3 * 2 ** -11)), 0xbc02);
    // mantissa carry into the exponent: (2 - 2^-11) is a tie between 0x3fff and 0x4000 → even 0x4000
    assert.equal(toHalf(2 - 2 ** -11), 0x4000);
  });

  test('subnormals and underflow, ties to even', () => {
    // subnormal step is 2^-24
    assert.equal(toHalf(2 ** -25), 0x0000); // tie between 0 and 1 → even 0
    assert.equal(toHalf(2 ** -25 + 2 ** -35), 0x0001); // above the tie → 1
    assert.equal(toHalf(3 * 2 ** -25), 0x0002); // 1.5 steps: tie between 1 and 2 → even 2
    assert.equal(toHalf(5 * 2 ** -26), 0x0001); // 1.25 steps → 1
    assert.equal(toHalf(7 * 2 ** -26), 0x0002); // 1.75 steps → 2
    assert.equal(toHalf(100 * 2 ** -24), 100); // exact subnormal
    assert.equal(toHalf(2 ** -26), 0x0000);
    assert.equal(toHalf(1e-10), 0x0000);
    assert.equal(toHalf(-1e-10), 0x8000); // signed zero
    // 1023.5 steps is a tie between 0x03ff and 0x0400 → even 0x0400 (the smallest normal)
    assert.equal(toHalf(1023.5 * 2 ** -24), 0x0400);
  });

  test('overflow goes to ±Infinity', () => {
    assert.equal(toHalf(65519), 0x7bff); // below the midpoint 65520 → max half
    assert.equal(toHalf(65520), 0x7c00); // the tie between 65504 (odd mantissa) and 65536 → even = Infinity
    assert.equal(toHalf(1e6), 0x7c00);
    assert.equal(toHalf(-1e6), 0xfc00);
    assert.equal(toHalf(Infinity), 0x7c00);
    assert.equal(toHalf(-Infinity), 0xfc00);
    assert.equal(toHalf(3.4e38), 0x7c00);
  });

  test('NaN stays NaN', () => {
    assert.ok(isHalfNaN(toHalf(NaN)), `0x${toHalf(NaN).toString(16)}`);
    assert.ok(Number.isNaN(fromHalf(0x7e00)));
    assert.ok(Number.isNaN(fromHalf(0x7c01)));
    assert.ok(Number.isNaN(fromHalf(0xfe00)));
  });

  test('fromHalf of known bit patterns', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3800, 0.5],
      [0x3555, 1365 / 4096], // (1 + 341/1024) × 2^-2 = 1365/4096 = 0.333251953125
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24], // 5.960464477539063e-8
      [0x03ff, 1023 * 2 ** -24],
      [0x57f8, 127.5],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x0000, 0],
    ];
    for (const [bits, v] of cases) assert.equal(fromHalf(bits), v, `fromHalf(0x${bits.toString(16)})`);
    assert.ok(Object.is(fromHalf(0x8000), -0));
  });

  test('every finite half survives fromHalf → toHalf exactly', () => {
    for (let h = 0; h <= 0xffff; h++) {
      if (isHalfNaN(h)) continue;
      const back = toHalf(fromHalf(h));
      if (back !== h) assert.fail(`0x${h.toString(16)} → ${fromHalf(h)} → 0x${back.toString(16)}`);
    }
  });

  test('round trip of many values stays within half precision', () => {
    // deterministic LCG so a failure reproduces
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20000; i++) {
      const magnitude = 2 ** (Math.floor(rnd() * 40) - 24); // 2^-24 … 2^15
      const x = (rnd() < 0.5 ? -1 : 1) * magnitude * (1 + rnd());
      if (Math.abs(x) >= 65504) continue;
      const y = fromHalf(toHalf(x));
      // normal: relative error ≤ half an ulp = 2^-11; subnormal: absolute error ≤ half a step = 2^-25
      const bound = Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25;
      if (!(Math.abs(y - x) <= bound * (1 + 1e-9))) assert.fail(`${x} → ${y}`);
    }
  });

  test('halfArrayToFloat32', () => {
    const out = halfArrayToFloat32(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7c00]));
    assert.ok(out instanceof Float32Array);
    assert.deepEqual(Array.from(out), [1, -2, 0.5, Infinity]);
  });
});
