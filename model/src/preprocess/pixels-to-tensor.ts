/**
 * The model's input tensor from decoded pixels: one pure function, driven by the model config.
 * Order of steps (fixed): channel order → value = (pixel × scale − mean) / std → layout → dtype.
 * Each step rounds to float32, as NumPy does on Keras' float32 arrays, so e.g. caffe mode
 * (pixel − 103.939) gives Keras' tensor bit for bit.
 *
 * A pixel is one of 256 values, so each channel's converted values are computed once into a table
 * and the pixels are looked up: the same bits as computing each one, at a fraction of the cost
 * (measured: 1.9 → 0.2 core-ms per 224×224 float32 tensor, 6.7 → 0.2 for float16), on the worker's
 * main thread where every job's tensor is made.
 */
import type { ModelConfig } from '../repository/model-config.ts';
import type { RgbPixels } from '../image/image.ts';
import { toHalf } from './float16.ts';

export type InputData = Float32Array | Uint16Array | Uint8Array;

export interface InputTensor {
  dtype: ModelConfig['input']['dtype'];
  data: InputData;
  /** Batch of one, in the model's layout. */
  dims: [1, number, number, number];
}

export function pixelsToTensor(px: RgbPixels, config: Pick<ModelConfig, 'input' | 'preprocess'>): InputTensor {
  const { width: w, height: h } = px;
  const { layout, dtype, channels } = config.input;
  if (px.data.length !== w * h * 3) throw new Error(`expected ${w * h * 3} RGB bytes, got ${px.data.length}`);
  // A plain Uint8Array view: V8 optimizes these loops for it, not for Buffer.
  const data = new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.length);
  const plane = w * h;
  const out =
    dtype === 'float32' ? new Float32Array(plane * 3) : dtype === 'float16' ? new Uint16Array(plane * 3) : new Uint8Array(plane * 3);
  // For model channel c, which decoded (RGB) channel feeds it.
  const [s0, s1, s2] = channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const [t0, t1, t2] = [0, 1, 2].map((c) => channelTable(config, c, out)) as [InputData, InputData, InputData];
  // One pass over the pixels; channel c of pixel i goes to c·plane + i (NCHW) or 3i + c (NHWC).
  const [o1, o2, step] = layout === 'NCHW' ? [plane, 2 * plane, 1] : [1, 2, 3];
  for (let i = 0, p = 0, o = 0; i < plane; i++, p += 3, o += step) {
    out[o] = t0[data[p + s0]!]!;
    out[o + o1] = t1[data[p + s1]!]!;
    out[o + o2] = t2[data[p + s2]!]!;
  }
  return { dtype, data: out, dims: layout === 'NCHW' ? [1, 3, h, w] : [1, h, w, 3] };
}

/** The 256 converted values of model channel `c`, in the output's own element type. */
function channelTable(config: Pick<ModelConfig, 'input' | 'preprocess'>, c: number, like: InputData): InputData {
  const { scale, mean, std } = config.preprocess;
  const dtype = config.input.dtype;
  const convert: (v: number) => number =
    dtype === 'float32' ? (v) => v : dtype === 'float16' ? toHalf : (v) => Math.min(255, Math.max(0, Math.round(v)));
  const f32 = Math.fround;
  const scale32 = f32(scale);
  const m = f32(mean[c]!);
  const s = f32(std[c]!);
  const table = new (like.constructor as Float32ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor)(256);
  for (let p = 0; p < 256; p++) table[p] = convert(f32(f32(f32(p * scale32) - m) / s));
  return table;
}
