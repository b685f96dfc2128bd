/**
 * Converts a TF.js *layers* model (Keras topology + weights) to an ONNX graph: runs the Keras
 * graph in dependency order, handing each layer call to its converter in `keras-layers.ts`,
 * and plans two fusions up front — BatchNormalization folded into the conv before it, and
 * ZeroPadding2D absorbed into the next conv's pads — so the ONNX graph is as lean as the
 * original and needs no runtime optimizer to be fast.
 */
import { ConversionError, layerError } from './conversion-error.ts';
import { finishClassifier, type ConvertedModel, type ConvertOptions } from './converted-model.ts';
import { ACCEPTS_PENDING_PADS, LAYER_CONVERTERS, type LayerContext } from './keras-layers.ts';
import {
  declaredInputShape,
  modelConfigOf,
  NESTED_MODEL_CLASSES,
  readKerasGraph,
  refKey,
  type KerasGraph,
  type KerasLayer,
  type KerasRef,
} from './keras-topology.ts';
import { OnnxEmitter, type TensorRef } from './onnx-emitter.ts';
import type { TfjsModelJson } from './tfjs-model-json.ts';
import { decodeWeights, type DecodedWeight } from './tfjs-weights.ts';
import { WeightStore } from './weight-store.ts';

/** Every layer class the converter understands. */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = [
  'InputLayer',
  ...Object.keys(LAYER_CONVERTERS),
  ...NESTED_MODEL_CLASSES,
].sort();

/**
 * Converts a layers model to ONNX with an NHWC float32 input (`input`, [N, H, W, C]) and one
 * [N, classes] output. Throws ConversionError naming the first layer it cannot express.
 *
 * @param modelJson the parsed model.json (modelTopology + weightsManifest)
 * @param weightData all weight shards concatenated in manifest order
 */
export function convertLayersModel(modelJson: TfjsModelJson, weightData: Uint8Array, opts: ConvertOptions = {}): ConvertedModel {
  const model = modelConfigOf(modelJson.modelTopology);
  opts.onProgress?.(`decoding ${modelJson.weightsManifest.reduce((n, g) => n + g.weights.length, 0)} weights`);
  return convertKerasModel(model, decodeWeights(modelJson.weightsManifest, weightData), opts);
}

/**
 * Converts a Keras model config (`{class_name, config}`, Keras 2 or 3 form) whose weights are
 * already decoded and named `<layer>/<param>`: the part shared by TF.js, `.h5` and `.keras` imports.
 */
export function convertKerasModel(
  model: { class_name: string; config: unknown },
  decoded: Map<string, DecodedWeight>,
  opts: ConvertOptions = {},
): ConvertedModel {
  const graph = readKerasGraph(model);
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1) {
    throw new ConversionError(
      `model "${graph.name}" has ${graph.inputs.length} inputs and ${graph.outputs.length} outputs; an image classifier needs exactly 1 of each`,
    );
  }
  const weights = new WeightStore(decoded);
  const em = new OnnxEmitter('image-classifier keras-to-onnx');
  const input = em.graphInput(opts.inputName ?? 'input', declaredInputShape(graph));
  opts.onProgress?.(`converting ${graph.layers.length} layers of "${graph.name}"`);
  const [output] = runGraph(graph, [input], em, weights);
  return finishClassifier(em, input, output!, weights.unused(), opts, graph.name);
}

/**
 * Emits one (possibly nested) Keras graph applied to `inputs`, returning its output tensors.
 * Layers are converted as soon as all their inputs exist, so the list order in the config
 * does not matter.
 */
function runGraph(graph: KerasGraph, inputs: TensorRef[], em: OnnxEmitter, weights: WeightStore): TensorRef[] {
  const layers = new Map(graph.layers.map((l) => [l.name, l]));
  const tensors = new Map<string, TensorRef>();
  graph.inputs.forEach((ref, i) => {
    const layer = layers.get(ref.layer);
    if (layer?.className !== 'InputLayer') {
      throw new ConversionError(`model "${graph.name}" input "${ref.layer}" is not an InputLayer`);
    }
    tensors.set(refKey(ref), inputs[i]!);
  });
  const bnFolds = planBatchNormFolds(graph, layers);
  const foldedBns = new Set([...bnFolds.values()].map((bn) => bn.name));

  let pending = graph.layers.flatMap((layer) =>
    layer.inbound.map((refs, call) => ({ layer, node: call + firstSerializedNode(layer), refs })),
  );
  while (pending.length > 0) {
    const waiting: typeof pending = [];
    for (const call of pending) {
      const args = call.refs.map((r) => tensors.get(refKey(r)));
      if (args.some((t) => t === undefined)) {
        waiting.push(call);
        continue;
      }
      const outputs = convertCall(call.layer, args as TensorRef[], em, weights, bnFolds, foldedBns);
      for (const node of nodeIndices(call.layer, call.node)) {
        outputs.forEach((t, i) => tensors.set(refKey({ layer: call.layer.name, node, tensor: i }), t));
      }
    }
    if (waiting.length === pending.length) {
      const stuck = waiting.map((c) => `"${c.layer.name}" (needs ${c.refs.filter((r) => !tensors.has(refKey(r))).map((r) => r.layer).join(', ')})`);
      throw new ConversionError(`model "${graph.name}": layers whose inputs never appear: ${stuck.slice(0, 5).join('; ')}`);
    }
    pending = waiting;
  }
  return graph.outputs.map((ref) => {
    const t = tensors.get(refKey(ref));
    if (!t) throw new ConversionError(`model "${graph.name}" output ${refKey(ref)} is never computed`);
    return t;
  });
}

function convertCall(
  layer: KerasLayer,
  args: TensorRef[],
  em: OnnxEmitter,
  weights: WeightStore,
  bnFolds: Map<string, KerasLayer>,
  foldedBns: Set<string>,
): TensorRef[] {
  if (NESTED_MODEL_CLASSES.has(layer.className)) {
    const inner = readKerasGraph({ class_name: layer.className, config: layer.config, name: layer.name });
    return runGraph(inner, args, em, weights);
  }
  const converter = LAYER_CONVERTERS[layer.className];
  if (!converter) {
    throw layerError(
      layer.name,
      layer.className,
      `this layer type is not supported by the converter (supported: ${SUPPORTED_LAYER_CLASSES.join(', ')})`,
    );
  }
  const inputs = ACCEPTS_PENDING_PADS.has(layer.className) ? args : args.map((t) => em.materialize(t));
  const ctx: LayerContext = {
    em,
    weights,
    foldBatchNorm: bnFolds.get(layer.name),
    isFoldedBatchNorm: foldedBns.has(layer.name),
  };
  return converter(layer, inputs, ctx);
}

/**
 * Node index of a layer's first serialized call. A nested model already has node 0 when it is
 * rebuilt (the call on its own inputs), so Keras and tfjs skip that node when saving and number
 * the saved calls from 1.
 */
function firstSerializedNode(layer: KerasLayer): number {
  return NESTED_MODEL_CLASSES.has(layer.className) ? 1 : 0;
}

/**
 * The node indices other layers may use for this call. Keras versions disagree on whether a nested
 * model's single call is node 0 or 1 (Keras 3 renumbers a layer's calls per model, tfjs and
 * Keras 2 keep the skipped node 0), so a nested model called once answers to both.
 */
function nodeIndices(layer: KerasLayer, node: number): number[] {
  return NESTED_MODEL_CLASSES.has(layer.className) && layer.inbound.length === 1 ? [0, 1] : [node];
}

const FOLDABLE_CONVS = new Set(['Conv2D', 'DepthwiseConv2D']);

/**
 * conv name → the BatchNormalization to fold into it. Folding is only exact when the BN is the
 * conv's sole consumer, the conv has no activation of its own, is called once, and the BN
 * normalizes the channel axis.
 */
export function planBatchNormFolds(graph: KerasGraph, layers: Map<string, KerasLayer>): Map<string, KerasLayer> {
  const consumers = new Map<string, number>();
  for (const layer of graph.layers) {
    for (const refs of layer.inbound) for (const r of refs) consumers.set(refKey(r), (consumers.get(refKey(r)) ?? 0) + 1);
  }
  for (const r of graph.outputs) consumers.set(refKey(r), (consumers.get(refKey(r)) ?? 0) + 1);

  const folds = new Map<string, KerasLayer>();
  for (const bn of graph.layers) {
    if (bn.className !== 'BatchNormalization' || bn.inbound.length !== 1 || bn.inbound[0]!.length !== 1) continue;
    const ref = bn.inbound[0]![0]!;
    const conv = layers.get(ref.layer);
    if (!conv || !FOLDABLE_CONVS.has(conv.className) || conv.inbound.length !== 1) continue;
    if ((conv.config['activation'] ?? 'linear') !== 'linear') continue;
    if (consumers.get(refKey(ref)) !== 1) continue;
    const rawAxis = bn.config['axis'] ?? -1;
    const axis = Array.isArray(rawAxis) && rawAxis.length === 1 ? rawAxis[0] : rawAxis;
    if (axis !== -1 && axis !== 3) continue;
    folds.set(conv.name, bn);
  }
  return folds;
}
