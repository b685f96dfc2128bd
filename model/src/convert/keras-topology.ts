/**
 * Reads a Keras model config into one normalized shape: a list of layers, each with the tensors
 * it is called on (one list per call), plus the model's input and output tensors. It is shared by
 * every route in: TF.js layers `model.json`, legacy `.h5` files and Keras 3 `.keras` archives.
 * Functional (`Model`/`Functional`) and `Sequential` configs both end up in this form, in the
 * Keras 2 form (inbound nodes as `[layer, node, tensor, kwargs]` lists) and the Keras 3 form
 * (`{args, kwargs}` holding `__keras_tensor__` objects, `module`/`registered_name` wrappers, dtype
 * policies); nested models stay layers whose config is read on demand.
 */
import { ConversionError, layerError } from './conversion-error.ts';
import { normalizeLayerConfig } from './keras-config-values.ts';

/** One tensor: output `tensor` of call number `node` of `layer`. */
export interface KerasRef {
  layer: string;
  node: number;
  tensor: number;
}

export interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** One entry per call of the layer, each listing the tensors that call consumes. */
  inbound: KerasRef[][];
}

export interface KerasGraph {
  name: string;
  layers: KerasLayer[];
  inputs: KerasRef[];
  outputs: KerasRef[];
}

/** Layer classes that are whole models nested inside the graph. */
export const NESTED_MODEL_CLASSES = new Set(['Model', 'Functional', 'Sequential']);

/** Stable key for a tensor, for maps. */
export function refKey(r: KerasRef): string {
  return `${r.layer}:${r.node}:${r.tensor}`;
}

/** The `model_config` of a layers model.json topology (Keras saves it either at the top or under it). */
export function modelConfigOf(topology: unknown): { class_name: string; config: unknown } {
  const t = topology as { model_config?: unknown; class_name?: unknown } | null;
  const cfg = (t && typeof t === 'object' && 'model_config' in t ? t.model_config : t) as {
    class_name?: unknown;
    config?: unknown;
  } | null;
  if (!cfg || typeof cfg.class_name !== 'string' || cfg.config === undefined) {
    throw new ConversionError('model.json has no Keras model_config (class_name + config); is this a TF.js layers model?');
  }
  return cfg as { class_name: string; config: unknown };
}

/** The model config of a Keras file (`config.json` of a `.keras`, `model_config` of an `.h5`): `{class_name, config}`. */
export function kerasModelConfig(raw: unknown, where: string): { class_name: string; config: unknown } {
  const cfg = raw as { class_name?: unknown; config?: unknown } | null;
  if (!cfg || typeof cfg !== 'object' || typeof cfg.class_name !== 'string' || cfg.config === undefined) {
    throw new ConversionError(`${where} is not a Keras model config (no class_name + config)`);
  }
  return cfg as { class_name: string; config: unknown };
}

/** Normalizes a Functional/Model or Sequential config. */
export function readKerasGraph(model: { class_name: string; config: unknown; name?: string }): KerasGraph {
  if (model.class_name === 'Sequential') return readSequential(model.config, model.name);
  if (model.class_name === 'Model' || model.class_name === 'Functional') return readFunctional(model.config);
  throw new ConversionError(`model class ${model.class_name} is not supported (expected Model, Functional or Sequential)`);
}

function readFunctional(config: unknown): KerasGraph {
  const c = config as { name?: string; layers?: unknown[]; input_layers?: unknown; output_layers?: unknown };
  if (!Array.isArray(c.layers)) throw new ConversionError('functional model config has no layers list');
  const name = c.name ?? 'model';
  const layers = c.layers.map((raw) => readLayer(raw));
  return { name, layers, inputs: readRefList(c.input_layers, `${name} input_layers`), outputs: readRefList(c.output_layers, `${name} output_layers`) };
}

function readLayer(raw: unknown): KerasLayer {
  const l = raw as { class_name?: string; name?: string; config?: Record<string, unknown>; inbound_nodes?: unknown };
  const name = l.name ?? (l.config?.['name'] as string | undefined);
  if (typeof l.class_name !== 'string' || typeof name !== 'string' || !l.config) {
    throw new ConversionError(`a layer entry lacks class_name/name/config: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const className = l.class_name;
  const nodes = l.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw layerError(name, className, 'inbound_nodes is not a list');
  const inbound = nodes.map((node) => {
    if (Array.isArray(node)) return node.map((r) => readRef(r, `layer "${name}" inbound node`));
    if (node && typeof node === 'object' && 'args' in node) return readKeras3Node(node as Keras3Node, name, className);
    throw layerError(name, className, `inbound node ${JSON.stringify(node).slice(0, 120)} is neither the Keras 2 nor the Keras 3 form`);
  });
  // Keras 3 writes {args, kwargs} nodes (and `module` keys in .keras configs); Keras 2 and tfjs write lists.
  const keras3 = 'module' in (raw as object) || nodes.some((node) => !Array.isArray(node));
  return { className, name, config: normalizeLayerConfig(name, className, l.config, keras3), inbound };
}

/** A Keras 3 call: positional `args` and keyword `kwargs`, tensors written as `__keras_tensor__` objects. */
interface Keras3Node {
  args?: unknown;
  kwargs?: unknown;
}

/**
 * The tensors of a Keras 3 call, in argument order (a merge layer gets them as one list argument).
 * A tensor passed by keyword (e.g. an attention layer's `value=`) has no place in a single-input
 * layer graph, so it is refused by name rather than dropped.
 */
function readKeras3Node(node: Keras3Node, name: string, className: string): KerasRef[] {
  const refs: KerasRef[] = [];
  collectTensors(node.args ?? [], refs, `layer "${name}" inbound node`);
  const byKeyword: KerasRef[] = [];
  collectTensors(node.kwargs ?? {}, byKeyword, `layer "${name}" inbound node`);
  if (byKeyword.length > 0) {
    throw layerError(name, className, `takes tensors as keyword arguments (${Object.keys(node.kwargs as object).join(', ')}); only positional inputs are supported`);
  }
  return refs;
}

function collectTensors(value: unknown, out: KerasRef[], where: string): void {
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, where);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const v = value as { class_name?: unknown; config?: { keras_history?: unknown } };
  if (v.class_name === '__keras_tensor__') {
    out.push(readRef(v.config?.keras_history, where));
    return;
  }
  for (const inner of Object.values(value)) collectTensors(inner, out, where);
}

/** Sequential models have no inbound nodes; each layer consumes the previous one's output. */
function readSequential(config: unknown, fallbackName?: string): KerasGraph {
  const c = (Array.isArray(config) ? { layers: config } : config) as { name?: string; layers?: unknown[] };
  if (!Array.isArray(c.layers) || c.layers.length === 0) throw new ConversionError('Sequential model config has no layers');
  const name = c.name ?? fallbackName ?? 'sequential';
  const raw = c.layers.map((r) => readLayer({ ...(r as object), inbound_nodes: [] }));
  const layers: KerasLayer[] = [];
  let first = raw[0]!;
  if (first.className !== 'InputLayer') {
    let shape = first.config['batch_input_shape'] ?? first.config['batch_shape'];
    if (!Array.isArray(shape) && NESTED_MODEL_CLASSES.has(first.className)) {
      shape = declaredInputShape(readKerasGraph({ class_name: first.className, config: first.config }));
    }
    if (!Array.isArray(shape)) {
      throw layerError(first.name, first.className, 'first layer of a Sequential model has no batch_input_shape');
    }
    first = { className: 'InputLayer', name: `${name}_input`, config: { batch_input_shape: shape }, inbound: [] };
    layers.push(first);
  }
  let previous = first;
  for (const layer of raw) {
    if (layer === first) {
      layers.push(layer);
      continue;
    }
    layer.inbound = [[{ layer: previous.name, node: 0, tensor: 0 }]];
    layers.push(layer);
    previous = layer;
  }
  return {
    name,
    layers,
    inputs: [{ layer: first.name, node: 0, tensor: 0 }],
    outputs: [{ layer: previous.name, node: 0, tensor: 0 }],
  };
}

function readRefList(raw: unknown, where: string): KerasRef[] {
  if (!Array.isArray(raw)) throw new ConversionError(`${where} is missing`);
  // A single-tensor list is sometimes saved flat: ["input_1", 0, 0].
  if (typeof raw[0] === 'string') return [readRef(raw, where)];
  return raw.map((r) => readRef(r, where));
}

function readRef(raw: unknown, where: string): KerasRef {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string' || typeof raw[1] !== 'number' || typeof raw[2] !== 'number') {
    throw new ConversionError(`${where}: expected [layer, node, tensor], got ${JSON.stringify(raw)}`);
  }
  return { layer: raw[0], node: raw[1], tensor: raw[2] };
}

/** The static input shape a model declares (batch first), looking through nested models. */
export function declaredInputShape(graph: KerasGraph): (number | null)[] {
  const inputLayer = graph.layers.find((l) => l.name === graph.inputs[0]?.layer);
  if (!inputLayer) throw new ConversionError(`model "${graph.name}" names no input layer`);
  const shape = inputLayer.config['batch_input_shape'] ?? inputLayer.config['batch_shape'];
  if (!Array.isArray(shape)) throw layerError(inputLayer.name, inputLayer.className, 'has no batch_input_shape');
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
}
