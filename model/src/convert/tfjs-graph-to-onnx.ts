/**
 * Converts a TF.js *graph* model (a frozen TensorFlow GraphDef + weights) to ONNX. Nodes are
 * converted on demand from the output backwards, so dead nodes are skipped and the order of
 * the GraphDef does not matter. Op mappings live in `tf-graph-ops.ts`.
 */
import { ConversionError, layerError } from './conversion-error.ts';
import { finishClassifier, type ConvertedModel, type ConvertOptions } from './converted-model.ts';
import { OnnxEmitter } from './onnx-emitter.ts';
import { OP_CONVERTERS, type GraphValue } from './tf-graph-ops.ts';
import { NodeAttrs } from './tf-node-attrs.ts';
import type { TfGraphDef, TfjsModelJson, TfNodeDef } from './tfjs-model-json.ts';
import { decodeWeights } from './tfjs-weights.ts';
import { WeightStore } from './weight-store.ts';

/** Every TF op the graph converter understands. */
export const SUPPORTED_GRAPH_OPS: readonly string[] = ['Placeholder', 'Const', ...Object.keys(OP_CONVERTERS)].sort();

/**
 * Converts a graph model with one image Placeholder and one [N, classes] output.
 * Throws ConversionError naming the first node whose op it cannot express.
 */
export function convertGraphModel(modelJson: TfjsModelJson, weightData: Uint8Array, opts: ConvertOptions = {}): ConvertedModel {
  const graph = modelJson.modelTopology as TfGraphDef;
  if (!Array.isArray(graph?.node)) throw new ConversionError('graph model topology has no node list');
  if (graph.library?.function?.length) {
    throw new ConversionError('graph models with function libraries (control flow) are not supported');
  }
  const nodes = new Map(graph.node.map((n) => [n.name, n]));
  opts.onProgress?.(`decoding ${modelJson.weightsManifest.reduce((n, g) => n + g.weights.length, 0)} weights`);
  const weights = new WeightStore(decodeWeights(modelJson.weightsManifest, weightData));
  const em = new OnnxEmitter('image-classifier tfjs-graph-to-onnx');

  const placeholders = graph.node.filter((n) => n.op === 'Placeholder');
  if (placeholders.length !== 1) {
    throw new ConversionError(`graph model has ${placeholders.length} Placeholder inputs; an image classifier needs exactly 1`);
  }
  const input = em.graphInput(opts.inputName ?? 'input', new NodeAttrs(placeholders[0]!).shape('shape'));
  const outputNode = findOutputNode(modelJson, graph, nodes);

  opts.onProgress?.(`converting ${graph.node.length} graph nodes`);
  const values = new Map<string, GraphValue>([[placeholders[0]!.name, { kind: 'tensor', ref: input }]]);
  const output = evaluate(outputNode.name, nodes, values, em, weights);
  if (output.kind !== 'tensor') throw new ConversionError(`graph output "${outputNode.name}" is a constant`);
  return finishClassifier(em, input, output.ref, weights.unused(), opts, 'graph');
}

/** The signature's single output, else the single node nothing consumes. */
function findOutputNode(modelJson: TfjsModelJson, graph: TfGraphDef, nodes: Map<string, TfNodeDef>): TfNodeDef {
  const signature = (modelJson as { userDefinedMetadata?: { signature?: { outputs?: Record<string, { name?: string }> } } })
    .userDefinedMetadata?.signature?.outputs;
  let names = signature ? Object.values(signature).map((o) => nodeName(o.name ?? '')) : [];
  if (names.length === 0) {
    const consumed = new Set(graph.node.flatMap((n) => (n.input ?? []).map(nodeName)));
    names = graph.node.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder').map((n) => n.name);
  }
  if (names.length !== 1) throw new ConversionError(`graph model has ${names.length} outputs (${names.join(', ')}); an image classifier needs exactly 1`);
  const node = nodes.get(names[0]!);
  if (!node) throw new ConversionError(`graph output "${names[0]}" is not a node of the graph`);
  return node;
}

/** `name:1` → `name`; `^name` (control dependency) → `name`. */
function nodeName(input: string): string {
  return input.replace(/^\^/, '').replace(/:\d+$/, '');
}

/**
 * Converts the node producing `name` after its inputs: an iterative depth-first walk (deep graphs
 * would overflow the stack with plain recursion) that also detects cycles.
 */
function evaluate(name: string, nodes: Map<string, TfNodeDef>, values: Map<string, GraphValue>, em: OnnxEmitter, weights: WeightStore): GraphValue {
  const onPath = new Set<string>();
  const stack: { name: string; inputsReady: boolean }[] = [{ name, inputsReady: false }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (values.has(frame.name)) continue;
    const node = nodes.get(frame.name);
    if (!node) throw new ConversionError(`graph references node "${frame.name}", which does not exist`);
    // Control dependencies (^name) order side effects in TF; inference graphs need none of them.
    const inputs = (node.input ?? []).filter((i) => !i.startsWith('^'));
    if (frame.inputsReady) {
      values.set(node.name, convertNode(node, inputs.map((i) => values.get(nodeName(i))!), em, weights));
      onPath.delete(node.name);
      continue;
    }
    if (onPath.has(node.name)) throw layerError(node.name, node.op, 'is part of a cycle');
    for (const i of inputs) {
      if (/:\d+$/.test(i) && !i.endsWith(':0')) throw layerError(node.name, node.op, `uses output ${i}; only first outputs are supported`);
    }
    onPath.add(node.name);
    stack.push({ name: node.name, inputsReady: true });
    for (const i of inputs) if (!values.has(nodeName(i))) stack.push({ name: nodeName(i), inputsReady: false });
  }
  return values.get(name)!;
}

function convertNode(node: TfNodeDef, inputs: GraphValue[], em: OnnxEmitter, weights: WeightStore): GraphValue {
  if (node.op === 'Const') {
    const w = weights.byName(node.name);
    if (!w) throw layerError(node.name, node.op, 'its value is not in the weights manifest (inline constants are not supported)');
    return { kind: 'const', name: node.name, shape: w.shape, values: w.values };
  }
  const converter = OP_CONVERTERS[node.op];
  if (!converter) {
    throw layerError(node.name, node.op, `this op is not supported by the converter (supported: ${SUPPORTED_GRAPH_OPS.join(', ')})`);
  }
  return converter(inputs, { em, node, attrs: new NodeAttrs(node) });
}

