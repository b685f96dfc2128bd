/** The shapes callers describe ONNX graphs with (see onnx-builder.ts). */
import type { DType, TensorData } from './tensor-data.ts';

/** A constant tensor, e.g. for the `value` attribute of a `Constant` node. */
export interface TensorInit {
  dims: number[];
  data: TensorData;
  dtype?: DType;
}

export type AttrValue =
  | number
  | number[]
  | string
  | { float: number }
  | { floats: number[] }
  | { ints: number[] }
  | { strings: string[] }
  | { tensor: TensorInit };

export type Attrs = Record<string, AttrValue>;

export interface NodeOptions {
  /** Output names, or how many outputs to generate names for (default 1). `''` marks an omitted optional output. */
  outputs?: string[] | number;
  /** Node name; defaults to a generated unique one. */
  name?: string;
}

export interface GraphBuilderOptions {
  /** Default-domain opset version (default 13). */
  opset?: number;
  producer?: string;
}
