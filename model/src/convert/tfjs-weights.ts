/**
 * Decodes a TF.js weights manifest + the concatenated shard bytes into named float32/int32
 * arrays, dequantizing exactly as tfjs-core's `decodeWeights` does (value = q * scale + min,
 * computed in double precision and stored as float32), so the converted model starts from
 * the same numbers the original model runs with.
 */
import { halfArrayToFloat32 } from '../preprocess/float16.ts';
import { ConversionError } from './conversion-error.ts';
import type { WeightSpec, WeightsManifestGroup } from './tfjs-model-json.ts';

export interface DecodedWeight {
  name: string;
  shape: number[];
  values: Float32Array | Int32Array;
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * Walks every weight of the manifest in order, slicing its bytes from `data`.
 * Throws a ConversionError when the bytes run out or a dtype is not numeric.
 */
export function decodeWeights(manifest: WeightsManifestGroup[], data: Uint8Array): Map<string, DecodedWeight> {
  const out = new Map<string, DecodedWeight>();
  let offset = 0;
  for (const group of manifest) {
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const storedAs = spec.quantization?.dtype ?? spec.dtype;
      const size = BYTES_PER_VALUE[storedAs];
      if (size === undefined) {
        throw new ConversionError(`weight "${spec.name}" is stored as ${storedAs}, which the converter cannot read`);
      }
      const byteLength = count * size;
      if (offset + byteLength > data.length) {
        throw new ConversionError(
          `weight data is too short: "${spec.name}" needs bytes ${offset}..${offset + byteLength} but there are ${data.length} ` +
            `(are all shard files present and in manifest order?)`,
        );
      }
      // slice() copies, which also gives typed-array views the alignment they need.
      const bytes = data.slice(offset, offset + byteLength);
      offset += byteLength;
      out.set(spec.name, { name: spec.name, shape: spec.shape, values: decodeOne(spec, bytes) });
    }
  }
  if (offset !== data.length) {
    throw new ConversionError(`weight data has ${data.length - offset} bytes more than the manifest describes`);
  }
  return out;
}

function decodeOne(spec: WeightSpec, bytes: Uint8Array): Float32Array | Int32Array {
  const q = spec.quantization;
  if (q === undefined) {
    if (spec.dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (spec.dtype === 'int32') return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (spec.dtype === 'bool') return Int32Array.from(bytes);
    throw new ConversionError(`weight "${spec.name}" has dtype ${spec.dtype}, which the converter cannot read`);
  }
  if (q.dtype === 'float16') {
    if (spec.dtype !== 'float32') throw new ConversionError(`weight "${spec.name}": float16 quantization needs dtype float32`);
    return halfArrayToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
  }
  if (q.min === undefined || q.scale === undefined) {
    throw new ConversionError(`weight "${spec.name}" is ${q.dtype}-quantized but has no min/scale`);
  }
  const quantized =
    q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const { min, scale } = q;
  if (spec.dtype === 'int32') return Int32Array.from(quantized, (v) => Math.round(v * scale + min));
  if (spec.dtype !== 'float32') throw new ConversionError(`weight "${spec.name}": ${q.dtype} quantization of ${spec.dtype}`);
  const values = new Float32Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) values[i] = quantized[i]! * scale + min;
  return values;
}

