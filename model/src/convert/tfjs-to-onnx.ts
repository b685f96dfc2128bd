/**
 * Entry point of the converter: picks the layers or graph converter from the model.json format.
 */
import { type ConvertedModel, type ConvertOptions } from './converted-model.ts';
import { isGraphModel, type TfjsModelJson } from './tfjs-model-json.ts';
import { convertGraphModel } from './tfjs-graph-to-onnx.ts';
import { convertLayersModel } from './tfjs-layers-to-onnx.ts';

export type { ConvertedModel, ConvertOptions } from './converted-model.ts';
export { ConversionError } from './conversion-error.ts';

/**
 * Converts a TF.js model (layers or graph format) to ONNX bytes with an NHWC float32 `input`
 * and one [N, classes] output (`probabilities` when the model ends in softmax).
 *
 * @param modelJson parsed model.json
 * @param weightData all weight shards concatenated in manifest order
 */
export function convertTfjsModel(modelJson: TfjsModelJson, weightData: Uint8Array, opts: ConvertOptions = {}): ConvertedModel {
  return isGraphModel(modelJson) ? convertGraphModel(modelJson, weightData, opts) : convertLayersModel(modelJson, weightData, opts);
}
