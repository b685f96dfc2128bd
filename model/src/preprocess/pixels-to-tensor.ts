/**
 * The model's input tensor from decoded pixels: one pure function, driven by the model config.
 * Order of steps (fixed): channel order → value = (pixel × scale − mean) / std → layout → dtype.
 * Each step rounds to float32, as NumPy does on Keras' float32 arrays, so e.g. caffe mode
 * (pixel − 103.939) gives Keras' tensor bit for bit.
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
  const { width: w, height: h, data } = px;
  const { layout, dtype, channels } = config.input;
  const { scale, mean, std } = config.preprocess;
  if (data.length !== w * h * 3) throw new Error(`expected ${w * h * 3} RGB bytes, got ${data.length}`);
  // For model channel c, which decoded (RGB) channel feeds it.
  const source = channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const plane = w * h;
  const out =
    dtype === 'float32' ? new Float32Array(plane * 3) : dtype === 'float16' ? new Uint16Array(plane * 3) : new Uint8Array(plane * 3);
  const convert: (v: number) => number =
    dtype === 'float32' ? (v) => v : dtype === 'float16' ? toHalf : (v) => Math.min(255, Math.max(0, Math.round(v)));
  const f32 = Math.fround;
  const scale32 = f32(scale);
  for (let c = 0; c < 3; c++) {
    const src = source[c]!;
    const m = f32(mean[c]!);
    const s = f32(std[c]!);
    for (let i = 0; i < plane; i++) {
      const v = convert(f32(f32(f32(data[i * 3 + src]! * scale32) - m) / s));
      out[layout === 'NCHW' ? c * plane + i : i * 3 + c] = v;
    }
  }
  return { dtype, data: out, dims: layout === 'NCHW' ? [1, 3, h, w] : [1, h, w, 3] };
}
