/**
 * Moves TF weights into ONNX layouts and folds batch normalization into them. TF keeps conv
 * kernels as HWIO (height, width, in, out); ONNX Conv wants OIHW. Folding is done in double
 * precision and rounded once to float32, so it adds no more error than the original BN op.
 */

/** Conv2D kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
export function hwioToOihw(values: ArrayLike<number>, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(kh! * kw! * ci! * co!);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < ci!; i++)
        for (let o = 0; o < co!; o++) {
          out[((o * ci! + i) * kh! + y) * kw! + x] = values[((y * kw! + x) * ci! + i) * co! + o]!;
        }
  return out;
}

/**
 * DepthwiseConv2D kernel [kh, kw, in, multiplier] → ONNX grouped-conv weight [in*multiplier, 1, kh, kw]
 * (group = in). TF numbers output channel c*multiplier + m, which is what a grouped conv produces.
 */
export function depthwiseToOnnx(values: ArrayLike<number>, [kh, kw, ci, mult]: number[]): Float32Array {
  const out = new Float32Array(kh! * kw! * ci! * mult!);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let c = 0; c < ci!; c++)
        for (let m = 0; m < mult!; m++) {
          out[((c * mult! + m) * kh! + y) * kw! + x] = values[((y * kw! + x) * ci! + c) * mult! + m]!;
        }
  return out;
}

export interface BatchNormParams {
  /** Absent when the layer was built with scale=false (gamma fixed at 1). */
  gamma?: ArrayLike<number>;
  /** Absent when the layer was built with center=false (beta fixed at 0). */
  beta?: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  epsilon: number;
}

/** BN as y = x * scale + shift per channel: scale = gamma / sqrt(var + eps), shift = beta - mean * scale. */
export function batchNormScaleShift(bn: BatchNormParams): { scale: Float64Array; shift: Float64Array } {
  const n = bn.mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    scale[c] = (bn.gamma ? bn.gamma[c]! : 1) / Math.sqrt(bn.variance[c]! + bn.epsilon);
    shift[c] = (bn.beta ? bn.beta[c]! : 0) - bn.mean[c]! * scale[c]!;
  }
  return { scale, shift };
}

/**
 * Folds y = conv(x) * scale + shift into the conv: each output channel's weights are multiplied by
 * its scale and the bias becomes bias * scale + shift. `weight` is in ONNX [out, ...] layout.
 */
export function foldScaleShift(
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
): { weight: Float32Array; bias: Float32Array } {
  const outChannels = scale.length;
  const perChannel = weight.length / outChannels;
  if (!Number.isInteger(perChannel)) {
    throw new Error(`foldScaleShift: ${weight.length} weights do not split into ${outChannels} output channels`);
  }
  const w = new Float32Array(weight.length);
  const b = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = scale[o]!;
    for (let k = o * perChannel; k < (o + 1) * perChannel; k++) w[k] = weight[k]! * s;
    b[o] = (bias ? bias[o]! : 0) * s + shift[o]!;
  }
  return { weight: w, bias: b };
}
