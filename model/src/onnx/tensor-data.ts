/**
 * Tensor data as ONNX stores it, without the protobuf: element types, conversion of what callers give
 * (typed arrays or plain numbers) to the element type, little-endian raw bytes. Pure functions.
 */
import { endianness } from 'node:os';
import { toHalf } from '../preprocess/float16.ts';

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8';

/** Data an initializer (or tensor attribute) may be given as; see GraphBuilder.initializer. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array | number[];

export function elementCount(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function inferDType(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'float16';
  return 'int64';
}

export type Typed = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export function toTypedArray(name: string, data: TensorData, dtype: DType): Typed {
  const mismatch = (): Error =>
    new Error(`GraphBuilder: tensor "${name}" is ${dtype} but its data is a ${data.constructor.name}`);
  switch (dtype) {
    case 'float32':
      if (data instanceof Float32Array) return data;
      if (Array.isArray(data)) return Float32Array.from(data);
      throw mismatch();
    case 'float16':
      if (data instanceof Uint16Array) return data;
      if (data instanceof Float32Array || Array.isArray(data)) return float32ToFloat16(data);
      throw mismatch();
    case 'int64':
      if (data instanceof BigInt64Array) return data;
      if (Array.isArray(data)) return BigInt64Array.from(data, (v) => BigInt(requireInteger(name, v)));
      throw mismatch();
    case 'int32':
      if (data instanceof Int32Array) return data;
      if (Array.isArray(data)) return Int32Array.from(data, (v) => requireInteger(name, v));
      throw mismatch();
    case 'uint8':
      if (data instanceof Uint8Array) return data;
      if (Array.isArray(data)) return Uint8Array.from(data, (v) => requireInteger(name, v));
      throw mismatch();
  }
}

function requireInteger(name: string, v: number): number {
  if (!Number.isInteger(v)) throw new Error(`GraphBuilder: tensor "${name}" needs integers but got ${v}`);
  return v;
}

const hostIsLittleEndian = endianness() === 'LE';

/** ONNX raw_data is little-endian; on a little-endian host the array's own bytes are used without a copy. */
export function littleEndianBytes(arr: Typed): Uint8Array {
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (hostIsLittleEndian || arr.BYTES_PER_ELEMENT === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  const size = arr.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) swapped[i + j] = bytes[i + size - 1 - j]!;
  }
  return swapped;
}

/** IEEE 754 half-precision bit patterns, rounded to nearest even. */
export function float32ToFloat16(values: ArrayLike<number>): Uint16Array {
  return Uint16Array.from(values, toHalf);
}

