/** What a converter hands back: the ONNX bytes plus the facts a model config needs. */
import { ConversionError } from './conversion-error.ts';
import { fmt, type OnnxEmitter, type TensorRef } from './onnx-emitter.ts';

export interface ConvertedModel {
  onnx: Uint8Array;
  input: { name: string; layout: 'NHWC'; height: number; width: number; channels: number };
  output: { name: string; kind: 'probabilities' | 'logits'; classes: number };
  nodeCount: number;
  parameterCount: number;
  /** Weights in the manifest that no layer used; non-empty means the mapping missed something. */
  unusedWeights: string[];
}

export interface ConvertOptions {
  /** Graph input name (default `input`). */
  inputName?: string;
  /** Graph output name (default `probabilities` when the model ends in softmax, else `logits`). */
  outputName?: string;
  /** Progress messages for long conversions. */
  onProgress?: (msg: string) => void;
}

/**
 * Declares the single output of an image classifier and serializes the graph.
 * The service feeds one NHWC image tensor and reads one [N, classes] tensor, so anything else is refused.
 */
export function finishClassifier(
  em: OnnxEmitter,
  input: TensorRef,
  output: TensorRef,
  unusedWeights: string[],
  opts: ConvertOptions,
  graphName: string,
): ConvertedModel {
  const [, height, width, channels] = input.shape;
  if (input.shape.length !== 4 || !height || !width || !channels) {
    throw new ConversionError(`the model input must be a static [N, H, W, C] image, got [${fmt(input.shape)}]`);
  }
  if (output.shape.length !== 2 || output.shape[1] === null) {
    throw new ConversionError(`the model output must be [N, classes], got [${fmt(output.shape)}]`);
  }
  const kind = output.isSoftmax ? 'probabilities' : 'logits';
  const name = opts.outputName ?? kind;
  em.graphOutput(output, name);
  return {
    onnx: em.g.toBytes(graphName),
    input: { name: input.name, layout: 'NHWC', height, width, channels },
    output: { name, kind, classes: output.shape[1]! },
    nodeCount: em.g.nodeCount,
    parameterCount: em.g.parameterCount,
    unusedWeights,
  };
}
