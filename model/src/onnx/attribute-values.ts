/** Attribute values before encoding: which ops take floats, and checks of integer lists. Pure functions. */
import type { Attrs } from './graph-types.ts';

/** Float-typed attributes of common default-domain ops, per the ONNX operator spec. */
const FLOAT_ATTRS: Record<string, readonly string[]> = {
  BatchNormalization: ['epsilon', 'momentum'],
  Clip: ['min', 'max'],
  Constant: ['value_float'],
  Dropout: ['ratio'],
  Elu: ['alpha'],
  Gemm: ['alpha', 'beta'],
  HardSigmoid: ['alpha', 'beta'],
  InstanceNormalization: ['epsilon'],
  LayerNormalization: ['epsilon'],
  LeakyRelu: ['alpha'],
  LRN: ['alpha', 'beta', 'bias'],
  Pad: ['value'],
  Resize: ['cubic_coeff_a', 'extrapolation_value'],
  Selu: ['alpha', 'gamma'],
  ThresholdedRelu: ['alpha'],
  Celu: ['alpha'],
  Shrink: ['bias', 'lambd'],
};

export function coerceKnownFloatAttrs(opType: string, attrs: Attrs): Attrs {
  const floats = FLOAT_ATTRS[opType];
  const out: Attrs = { ...attrs };
  if (!floats) return out;
  for (const key of floats) {
    const v = out[key];
    if (typeof v === 'number') out[key] = { float: v };
  }
  return out;
}

export function checkInts(name: string, values: number[]): number[] {
  for (const v of values) {
    if (!Number.isSafeInteger(v)) {
      throw new Error(`GraphBuilder: attribute "${name}" is a list of ints but contains ${v}; use { floats: [...] }`);
    }
  }
  return [...values];
}

