/**
 * TensorFlow's padding rules, turned into the explicit pads ONNX wants. TF's `same` puts the
 * odd extra pixel at the end (bottom/right), so a stride-2 3×3 conv on 224 pads 0 before and
 * 1 after; ONNX's symmetric-looking `pads` attribute must spell that out or the output shifts.
 */

/** Pads along one spatial axis and the resulting output size. */
export interface AxisPadding {
  before: number;
  after: number;
  out: number;
}

/** ONNX order for 2-D: [top, left, bottom, right]. */
export interface Pads2d {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export type TfPaddingMode = 'same' | 'valid';

/**
 * One axis of TF `same`/`valid` padding (tf.nn.conv2d / pool semantics, also used by tfjs):
 * `same` gives out = ceil(in / stride) and total pad max(0, (out-1)*stride + effectiveKernel - in),
 * split floor(total/2) before and the rest after.
 */
export function tfAxisPadding(mode: TfPaddingMode, inSize: number, kernel: number, stride: number, dilation = 1): AxisPadding {
  const effective = (kernel - 1) * dilation + 1;
  if (mode === 'valid') {
    const out = Math.floor((inSize - effective) / stride) + 1;
    return { before: 0, after: 0, out };
  }
  const out = Math.ceil(inSize / stride);
  const total = Math.max(0, (out - 1) * stride + effective - inSize);
  const before = Math.floor(total / 2);
  return { before, after: total - before, out };
}

/** Both spatial axes at once; returns the pads and the output height/width. */
export function tfSpatialPadding(
  mode: TfPaddingMode,
  inHW: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): { pads: Pads2d; outHW: [number, number] } {
  const h = tfAxisPadding(mode, inHW[0], kernel[0], strides[0], dilations[0]);
  const w = tfAxisPadding(mode, inHW[1], kernel[1], strides[1], dilations[1]);
  return { pads: { top: h.before, bottom: h.after, left: w.before, right: w.after }, outHW: [h.out, w.out] };
}

/** Output size of an ONNX conv/pool (floor mode) for an input that is already padded by `before + after`. */
export function paddedOutputSize(inSize: number, before: number, after: number, kernel: number, stride: number, dilation = 1): number {
  return Math.floor((inSize + before + after - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

/** The `pads` attribute of ONNX Conv/MaxPool/AveragePool. */
export function onnxPads(p: Pads2d): number[] {
  return [p.top, p.left, p.bottom, p.right];
}

export function addPads(a: Pads2d, b: Pads2d): Pads2d {
  return { top: a.top + b.top, bottom: a.bottom + b.bottom, left: a.left + b.left, right: a.right + b.right };
}

export const NO_PADS: Pads2d = { top: 0, bottom: 0, left: 0, right: 0 };
