/**
 * Reads a Keras model's weights out of HDF5, in the two layouts Keras writes, into the
 * `<layer>/<param>` map the converter looks weights up in:
 * - Keras 3 (`model.weights.h5` inside a `.keras`): `layers/<snake_case class>[_n]/vars/<i>`, the
 *   group name counting layers of each class in config order (nested models recurse under their group);
 * - legacy (`.h5` from `model.save`/`save_weights`): attribute `layer_names` on the root (weights-only)
 *   or on `model_weights` (full model), one group per layer with attribute `weight_names`.
 * Both store a layer's arrays in creation order, which `keras-weight-order.ts` turns into names.
 */
import { ConversionError } from '../convert/conversion-error.ts';
import { nameLayerWeights, type StoredWeight } from '../convert/keras-weight-order.ts';
import { NESTED_MODEL_CLASSES, readKerasGraph, type KerasGraph, type KerasLayer } from '../convert/keras-topology.ts';
import type { DecodedWeight } from '../convert/tfjs-weights.ts';
import type { Hdf5File } from './hdf5-file.ts';

/** Called after each layer's weights are read, with the bytes read so far (for progress). */
export type OnWeightsRead = (bytesRead: number) => void;

class WeightCollector {
  readonly weights = new Map<string, DecodedWeight>();
  bytes = 0;

  constructor(private readonly onRead?: OnWeightsRead) {}

  add(named: DecodedWeight[]): void {
    for (const w of named) {
      this.weights.set(w.name, w);
      this.bytes += w.values.byteLength;
    }
    this.onRead?.(this.bytes);
  }
}

/** Keras' `naming.to_snake_case`: `BatchNormalization` → `batch_normalization`, `ReLU` → `re_lu`. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function nestedGraph(layer: KerasLayer): KerasGraph {
  return readKerasGraph({ class_name: layer.className, config: layer.config, name: layer.name });
}

/** Weights of a Keras 3 `model.weights.h5`. */
export function readKeras3Weights(h5: Hdf5File, graph: KerasGraph, onRead?: OnWeightsRead): Map<string, DecodedWeight> {
  const out = new WeightCollector(onRead);
  readKeras3Graph(h5, graph, '', '', out);
  return out.weights;
}

function readKeras3Graph(h5: Hdf5File, graph: KerasGraph, groupPrefix: string, namePrefix: string, out: WeightCollector): void {
  const byRecordedName = recordedLayerGroups(h5, `${groupPrefix}layers`);
  const used = new Map<string, number>();
  for (const layer of graph.layers) {
    const base = kerasSnakeCase(layer.className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    const counted = `${groupPrefix}layers/${n === undefined ? base : `${base}_${n + 1}`}`;
    // Newer Keras records each layer's name on its vars group; that beats re-deriving the counter.
    const group = byRecordedName.get(layer.name) ?? counted;
    if (NESTED_MODEL_CLASSES.has(layer.className)) {
      readKeras3Graph(h5, nestedGraph(layer), `${group}/`, `${namePrefix}${layer.name}/`, out);
      continue;
    }
    const vars = `${group}/vars`;
    const keys = h5.has(vars) ? h5.keys(vars).sort((a, b) => Number(a) - Number(b)) : [];
    out.add(nameLayerWeights(layer, keys.map((k) => h5.readFloats(`${vars}/${k}`)), h5.path, namePrefix));
  }
}

/** Layer name → its group, from the `name` attribute Keras 3.x writes on `<group>/vars` (empty when absent). */
function recordedLayerGroups(h5: Hdf5File, layersGroup: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!h5.isGroup(layersGroup)) return out;
  for (const key of h5.keys(layersGroup)) {
    const name = h5.attr(`${layersGroup}/${key}/vars`, 'name');
    if (typeof name === 'string') out.set(name, `${layersGroup}/${key}`);
  }
  return out;
}

/** A string-list attribute; Keras 2 splits long ones into `name0`, `name1`, … */
export function stringListAttr(h5: Hdf5File, objPath: string, name: string): string[] | undefined {
  const whole = h5.attr(objPath, name);
  if (whole !== undefined) return asStrings(whole);
  const parts: string[] = [];
  for (let i = 0; h5.attr(objPath, `${name}${i}`) !== undefined; i++) parts.push(...asStrings(h5.attr(objPath, `${name}${i}`)));
  return parts.length > 0 ? parts : undefined;
}

function asStrings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map(String);
  // An empty list is stored as a zero-length float array.
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length === 0) return [];
  throw new ConversionError(`expected a list of names, got ${JSON.stringify(v)}`);
}

/**
 * Weights in the legacy layout under `root` ('' for a weights-only file, `model_weights` for a
 * full model). Every layer of the graph with weights must be in the file, and every layer of the
 * file must be in the graph: loading by name is only safe when the two agree completely.
 */
export function readLegacyWeights(h5: Hdf5File, root: string, graph: KerasGraph, onRead?: OnWeightsRead): Map<string, DecodedWeight> {
  const layerNames = stringListAttr(h5, root, 'layer_names');
  if (!layerNames) throw new ConversionError(`${h5.path}: no layer_names attribute${root ? ` on ${root}` : ''}; not a Keras weights file`);
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const weightNamesOf = (name: string): string[] => stringListAttr(h5, root ? `${root}/${name}` : name, 'weight_names') ?? [];
  // Layers without weights (the input layer is `input_1` in Keras 2, `input_layer` in Keras 3) may differ freely.
  const strangers = layerNames.filter((n) => !byName.has(n) && weightNamesOf(n).length > 0);
  if (strangers.length > 0) {
    throw new ConversionError(
      `${h5.path} holds weights for layers the model does not have: ${strangers.slice(0, 5).join(', ')}` +
        `${strangers.length > 5 ? ` and ${strangers.length - 5} more` : ''} (model "${graph.name}" has ${graph.layers.slice(1, 4).map((l) => l.name).join(', ')}, …)`,
    );
  }
  const out = new WeightCollector(onRead);
  for (const name of layerNames.filter((n) => byName.has(n))) {
    const layer = byName.get(name)!;
    const group = root ? `${root}/${name}` : name;
    const stored = weightNamesOf(name).map((w) => ({ name: w, ...h5.readFloats(`${group}/${w}`) }));
    if (NESTED_MODEL_CLASSES.has(layer.className)) out.add(nameNestedLegacy(layer, stored, h5.path));
    else out.add(nameLayerWeights(layer, stored, h5.path));
  }
  return out.weights;
}

/**
 * A nested model's weights come as one list named `…/<inner layer>/<param>`; each inner layer's
 * arrays keep their file order, which is their creation order.
 */
function nameNestedLegacy(model: KerasLayer, stored: (StoredWeight & { name: string })[], where: string, prefix = ''): DecodedWeight[] {
  const out: DecodedWeight[] = [];
  for (const inner of nestedGraph(model).layers) {
    const own = stored.filter((w) => w.name.replace(/:\d+$/, '').split('/').at(-2) === inner.name);
    if (NESTED_MODEL_CLASSES.has(inner.className)) out.push(...nameNestedLegacy(inner, stored, where, `${prefix}${model.name}/`));
    else if (own.length > 0) out.push(...nameLayerWeights(inner, own, where, `${prefix}${model.name}/`));
  }
  return out;
}
