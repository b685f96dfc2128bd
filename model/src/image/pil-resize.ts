/**
 * Resizing exactly as Pillow (PIL) does it, on decoded RGB pixels: Keras' `load_img(target_size)`
 * and torchvision-style recipes resize with PIL, and a model trained on those pixels answers best
 * (and reproducibly) on the same pixels. Pure functions, no dependencies.
 *
 * - nearest: Pillow's `ImagingScaleAffine` (`Image.resize(size, NEAREST)`): source position
 *   `(x + 0.5) · in/out`, accumulated in doubles step by step, truncated.
 * - bilinear: Pillow's `ImagingResample` (`Image.resize(size, BILINEAR)`): a triangle filter whose
 *   support widens with the downscale factor (antialiasing), coefficients normalized and rounded
 *   to 22-bit fixed point, a horizontal pass to 8-bit, then a vertical pass to 8-bit.
 */

export interface Rgb8 {
  /** Interleaved RGB bytes, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** A window of the resized image: only these output pixels are computed (a centre crop). */
export interface OutputWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** `Image.resize((outW, outH), Image.NEAREST)`, or the `window` of it. */
export function resizeNearestPil(src: Rgb8, outW: number, outH: number, window: OutputWindow = full(outW, outH)): Rgb8 {
  const xs = nearestIndices(src.width, outW);
  const ys = nearestIndices(src.height, outH);
  const out = new Uint8Array(window.width * window.height * 3);
  for (let y = 0; y < window.height; y++) {
    const row = ys[window.top + y]! * src.width;
    for (let x = 0; x < window.width; x++) {
      const s = (row + xs[window.left + x]!) * 3;
      const d = (y * window.width + x) * 3;
      out[d] = src.data[s]!;
      out[d + 1] = src.data[s + 1]!;
      out[d + 2] = src.data[s + 2]!;
    }
  }
  return { data: out, width: window.width, height: window.height };
}

/** Pillow's pretabulated source positions: start at half a step, add the step (in doubles), truncate. */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const idx = new Int32Array(outSize);
  let pos = step * 0.5;
  for (let i = 0; i < outSize; i++) {
    idx[i] = Math.min(inSize - 1, Math.max(0, Math.trunc(pos)));
    pos += step;
  }
  return idx;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  /** Per output position: first source index and count. */
  start: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output position. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter. */
function bilinearCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const ss = 1 / filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      sum += k[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x]! / sum : k[x]!;
      weights[o * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[o] = xmin;
    count[o] = xmax;
  }
  return { start, count, weights, ksize };
}

const clip8 = (ss: number): number => {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** `Image.resize((outW, outH), Image.BILINEAR)`, or the `window` of it. */
export function resizeBilinearPil(src: Rgb8, outW: number, outH: number, window: OutputWindow = full(outW, outH)): Rgb8 {
  const h = bilinearCoefficients(src.width, outW);
  const v = bilinearCoefficients(src.height, outH);
  // Source rows the window's vertical pass reads; only those get a horizontal pass.
  const firstRow = v.start[window.top]!;
  let lastRow = firstRow;
  for (let y = window.top; y < window.top + window.height; y++) lastRow = Math.max(lastRow, v.start[y]! + v.count[y]!);
  const rows = lastRow - firstRow;

  // Horizontal pass (skipped by Pillow when the width does not change).
  const sameWidth = outW === src.width;
  const sd = src.data;
  const mid = sameWidth ? sd.subarray(firstRow * src.width * 3, lastRow * src.width * 3) : new Uint8Array(rows * window.width * 3);
  const midStride = (sameWidth ? src.width : window.width) * 3;
  const midLeft = sameWidth ? window.left : 0;
  if (!sameWidth) {
    const { start, count, weights, ksize } = h;
    for (let r = 0; r < rows; r++) {
      const srcRow = (firstRow + r) * src.width * 3;
      let d = r * midStride;
      for (let o = window.left; o < window.left + window.width; o++) {
        const base = o * ksize;
        const n = count[o]!;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = srcRow + start[o]! * 3;
        for (let i = 0; i < n; i++, p += 3) {
          const w = weights[base + i]!;
          s0 += sd[p]! * w;
          s1 += sd[p + 1]! * w;
          s2 += sd[p + 2]! * w;
        }
        mid[d++] = clip8(s0);
        mid[d++] = clip8(s1);
        mid[d++] = clip8(s2);
      }
    }
  }

  // Vertical pass (skipped by Pillow when the height does not change).
  const out = new Uint8Array(window.width * window.height * 3);
  const { start, count, weights, ksize } = v;
  let d = 0;
  for (let o = window.top; o < window.top + window.height; o++) {
    const base = o * ksize;
    const n = outH === src.height ? 0 : count[o]!;
    const rowStart = (outH === src.height ? o : start[o]!) - firstRow;
    for (let x = 0; x < window.width; x++) {
      const col = rowStart * midStride + (midLeft + x) * 3;
      if (n === 0) {
        out[d++] = mid[col]!;
        out[d++] = mid[col + 1]!;
        out[d++] = mid[col + 2]!;
        continue;
      }
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = col;
      for (let i = 0; i < n; i++, p += midStride) {
        const w = weights[base + i]!;
        s0 += mid[p]! * w;
        s1 += mid[p + 1]! * w;
        s2 += mid[p + 2]! * w;
      }
      out[d++] = clip8(s0);
      out[d++] = clip8(s1);
      out[d++] = clip8(s2);
    }
  }
  return { data: out, width: window.width, height: window.height };
}

function full(width: number, height: number): OutputWindow {
  return { left: 0, top: 0, width, height };
}

/** Python's `round()`: halves go to the even neighbour (`round(464.5) == 464`). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Size after "shorter side to `shorter`" and the centre window of `cropW`×`cropH` in it, with
 * Python's rounding (`round(long · shorter / short)`, `round((size − crop) / 2)`), as torchvision's
 * CenterCrop and the usual PIL recipes compute them.
 */
export function shorterSideCrop(w: number, h: number, shorter: number, cropW: number, cropH: number): { width: number; height: number; window: OutputWindow } {
  const width = Math.max(cropW, w <= h ? shorter : roundHalfEven((w * shorter) / h));
  const height = Math.max(cropH, h <= w ? shorter : roundHalfEven((h * shorter) / w));
  const window = { left: roundHalfEven((width - cropW) / 2), top: roundHalfEven((height - cropH) / 2), width: cropW, height: cropH };
  return { width, height, window };
}
