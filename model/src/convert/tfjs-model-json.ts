/**
 * The parts of a TF.js `model.json` the converters read. Only what is used is typed; the
 * converters check the rest as they go, because model.json files come from many tool versions.
 */

/** How a stored weight is compressed; see tfjs-core `decodeWeights`. */
export interface WeightQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  min?: number;
  scale?: number;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: WeightQuantization;
}

export interface WeightsManifestGroup {
  /** Shard file names, in the order their bytes are concatenated. */
  paths: string[];
  weights: WeightSpec[];
}

export interface TfjsModelJson {
  /** `layers-model` (or absent, for older Keras exports) or `graph-model`. */
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: unknown;
  weightsManifest: WeightsManifestGroup[];
}

/** `graph-model` topology: a TensorFlow GraphDef in JSON form. */
export interface TfGraphDef {
  node: TfNodeDef[];
  versions?: unknown;
  library?: { function?: unknown[] };
}

export interface TfNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttrValue>;
}

/** A GraphDef attribute in protobuf-JSON form; bytes (`s`) are base64, int64s are strings. */
export interface TfAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
  tensor?: unknown;
}

/** Tells the two model formats apart the way tfjs does: graph models say so in `format`. */
export function isGraphModel(json: TfjsModelJson): boolean {
  if (json.format === 'graph-model') return true;
  const topo = json.modelTopology as { node?: unknown } | null;
  return json.format === undefined && topo !== null && typeof topo === 'object' && Array.isArray(topo.node);
}
