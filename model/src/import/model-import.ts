/**
 * `models import <path>`: turns a user's Keras or TF.js model into a model folder the service
 * serves without editing (model.onnx, config.json, labels.txt), offline. Sources:
 * - a Keras 3 `.keras` archive or a legacy full-model `.h5` (told apart by content);
 * - a TF.js layers or graph model folder (`model.json` + shards);
 * - `keras:<architecture>` plus a weights-only `.h5` (`--weights`), e.g. the original service's ResNet50.
 * Input and output names come from the converted graph; preprocessing from the model when it
 * scales its own input (a Rescaling layer first), else from `--preprocess`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { ModelConfig } from '../repository/model-config.ts';
import { MODEL_NAME_MAX } from '@icls/lib/job-contract';
import type { DecodedWeight } from '../convert/tfjs-weights.ts';
import { ConversionError } from '../convert/conversion-error.ts';
import { convertKerasModel } from '../convert/tfjs-layers-to-onnx.ts';
import { modelConfigOf, readKerasGraph, type KerasGraph } from '../convert/keras-topology.ts';
import { isGraphModel } from '../convert/tfjs-model-json.ts';
import { convertTfjsModel, type ConvertedModel } from '../convert/tfjs-to-onnx.ts';
import { formatBytes } from '../pull/format-units.ts';
import { installModel } from '../repository/model-repository.ts';
import { Hdf5File } from './hdf5-file.ts';
import { KERAS_APPLICATIONS } from './keras-applications.ts';
import { fileSize, KerasFileError, readKerasFile, unreadableKerasFile } from './keras-file.ts';
import { readLegacyWeights, type OnWeightsRead } from './keras-weights.ts';
import { imagenetLabels } from './imagenet-labels.ts';
import { PREPROCESS_MODES, preprocessValues, type PreprocessMode } from './preprocess-modes.ts';

export { PREPROCESS_MODES } from './preprocess-modes.ts';
import { readTfjsFolder } from './tfjs-folder.ts';

/** A line of text, or how far the reading of a local file has got (the CLI shows it as a bar). */
export type ImportProgress = string | FileReadProgress;

/** Bytes read of `file` (the model, or the weights of `keras:<architecture>`), for the model `name`. */
export interface FileReadProgress {
  name: string;
  file: string;
  bytesDone: number;
  bytesTotal: number;
  /** Since the reading began. */
  seconds: number;
  finished: boolean;
}

export interface ImportOptions {
  /** Folder name under models/ (default: from the file name, or `keras-<architecture>`). */
  name?: string;
  /** A labels file (one class per line, in output order), or `imagenet` for the bundled ImageNet names. */
  labels?: string;
  preprocess?: PreprocessMode;
  /** The weights file of a `keras:<architecture>` import. */
  weights?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** Aborted (Ctrl-C): the import stops before installing anything. */
  signal?: AbortSignal;
}

/** A problem with what the user asked for (exit code 2 territory in the CLI), with what to do instead. */
export class ImportUsageError extends Error {
  override name = 'ImportUsageError';
}

interface Converted {
  converted: ConvertedModel;
  /** What the source was, for provenance: `tiny.keras (Keras 3.15.1 .keras archive)`. */
  source: string;
  /** The preprocessing the model itself implies, if it says. */
  ownPreprocess?: PreprocessMode;
  defaultLabels?: 'imagenet';
}

/** Reports the reading of `file` (`bytesTotal` long) from now on: `read` as bytes come in, `done` once all are. */
function fileReadProgress(opts: ImportOptions, name: string, file: string, bytesTotal: number): { read: OnWeightsRead; done: () => void } {
  const progress = opts.onProgress ?? (() => {});
  const started = performance.now();
  const report = (bytesDone: number, finished: boolean) =>
    progress({ name, file, bytesDone, bytesTotal, finished, seconds: (performance.now() - started) / 1000 });
  return { read: (bytesDone) => report(bytesDone, false), done: () => report(bytesTotal, true) };
}

/**
 * The folder an import installs into without --name: from the file name, its Keras extension dropped
 * whatever its case (`Model.H5` from Windows became `model.h5`), or keras-<architecture> for keras:.
 */
export function importedModelName(source: string): string {
  if (source.startsWith(KERAS_PREFIX)) return `keras-${source.slice(KERAS_PREFIX.length)}`;
  const base = basename(source.replace(/[\\/]+$/, ''));
  const ext = extname(base);
  return modelNameFrom(KERAS_EXTENSIONS.has(ext.toLowerCase()) ? base.slice(0, -ext.length) : base);
}

const KERAS_EXTENSIONS = new Set(['.keras', '.h5', '.hdf5']);

const KERAS_PREFIX = 'keras:';

/** Converts `source` and installs it under `<modelsDir>/<name>/`; returns the folder. */
export async function importModel(source: string, modelsDir: string, opts: ImportOptions = {}): Promise<string> {
  const progress = opts.onProgress ?? (() => {});
  const started = performance.now();
  const name = opts.name ?? importedModelName(source);
  const c = await namingTheSource(source, () =>
    source.startsWith(KERAS_PREFIX) ? convertApplication(source, name, opts) : convertPath(source, name, opts),
  );
  // Converting holds the thread: a Ctrl-C during it is seen here, before anything is written.
  opts.signal?.throwIfAborted();
  const { converted } = c;
  if (converted.unusedWeights.length > 0) {
    throw new KerasFileError(
      `${source}: ${converted.unusedWeights.length} weights belong to no layer of the model (${converted.unusedWeights.slice(0, 3).join(', ')}…)`,
    );
  }
  const mode = opts.preprocess ?? c.ownPreprocess;
  if (!mode) {
    throw new ImportUsageError(
      `${source} does not say how it scales its input pixels (no Rescaling layer at its input): pass --preprocess ` +
        `${PREPROCESS_MODES.join('|')} (caffe, tf, torch: Keras' preprocess_input modes; unit: x / 255, for a model trained on ` +
        `pixels rescaled by 1/255; none: raw 0–255 pixels)`,
    );
  }
  if (opts.preprocess && c.ownPreprocess && opts.preprocess !== c.ownPreprocess) {
    progress(`${name}: --preprocess ${opts.preprocess} overrides the model's own (${c.ownPreprocess})`);
  }
  const labelsChoice = opts.labels ?? c.defaultLabels;
  const labels = await readLabels(labelsChoice, converted.output.classes);
  if (!labelsChoice) progress(`${name}: no --labels given: classes are named class_0 … class_${converted.output.classes - 1}`);

  const p = preprocessValues(mode);
  const config: ModelConfig = {
    name,
    version: '1',
    description: `${c.source}, ${converted.input.width}×${converted.input.height} input, ${converted.output.classes} classes`,
    file: 'model.onnx',
    input: { name: converted.input.name, layout: 'NHWC', dtype: 'float32', width: converted.input.width, height: converted.input.height, channels: p.channels },
    // Keras' load_img(path, target_size=…) default: PIL nearest, aspect ratio ignored.
    preprocess: { resize: 'stretch', interpolation: 'nearest', scale: p.scale, mean: p.mean, std: p.std },
    output: { name: converted.output.name, kind: converted.output.kind },
    labels: { file: 'labels.txt', display: labelsChoice === 'imagenet' ? 'keras' : 'raw' },
    batch: 'dynamic',
    provenance: {
      source: `${c.source}, converted by models import`,
      sha256: createHash('sha256').update(converted.onnx).digest('hex'),
      notes:
        `Preprocessing as Keras: load_img(target_size) (PIL nearest, aspect ratio ignored), then preprocess_input ` +
        `mode "${mode}"${whyThisMode(c.ownPreprocess, opts.preprocess)}. Input NHWC float32.`,
    },
  };
  progress(`${name}: writing ${formatBytes(converted.onnx.length)} ONNX model (${converted.nodeCount} nodes, ${converted.parameterCount.toLocaleString('en-US')} parameters)`);
  const dir = await installModel(modelsDir, { config, labels, onnx: converted.onnx }, { signal: opts.signal });
  progress(`${name}: ready in ${dir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return dir;
}

/** `.keras`, `.h5` or a TF.js folder. */
async function convertPath(source: string, name: string, opts: ImportOptions): Promise<Converted> {
  const info = await stat(source).catch(() => undefined);
  if (!info) throw new ImportUsageError(`${source}: no such file or folder (nor an NSFWJS variant or keras:<architecture>)`);
  if (opts.weights) throw new ImportUsageError(`--weights is for keras:<architecture> imports; ${source} carries its own weights`);
  const progress = opts.onProgress ?? (() => {});
  if (info.isDirectory()) {
    const { modelJson, weightData } = await readTfjsFolder(source);
    opts.signal?.throwIfAborted();
    progress(`${name}: read TF.js ${isGraphModel(modelJson) ? 'graph' : 'layers'} model (${formatBytes(weightData.length)} of weights)`);
    const converted = convertTfjsModel(modelJson, weightData, { onProgress: (m) => progress(`${name}: ${m}`) });
    const graph = isGraphModel(modelJson) ? undefined : readKerasGraph(modelConfigOf(modelJson.modelTopology));
    return { converted, source: `${basename(source)} (TF.js folder)`, ownPreprocess: graph && ownPreprocess(graph) };
  }
  const reading = fileReadProgress(opts, name, source, await fileSize(source));
  const file = await readKerasFile(source, reading.read);
  reading.done();
  opts.signal?.throwIfAborted();
  progress(`${name}: ${file.description}`);
  const converted = convertKerasModel(file.modelConfig, file.weights, { onProgress: (m) => progress(`${name}: ${m}`) });
  return { converted, source: `${basename(source)} (${file.description})`, ownPreprocess: ownPreprocess(file.graph) };
}

/** `keras:resnet50 --weights FILE`: the architecture from code, the weights from a legacy `.h5`. */
async function convertApplication(source: string, name: string, opts: ImportOptions): Promise<Converted> {
  const id = source.slice(KERAS_PREFIX.length);
  const app = KERAS_APPLICATIONS.find((a) => a.name === id);
  const known = KERAS_APPLICATIONS.map((a) => `keras:${a.name}`).join(', ');
  if (!app) throw new ImportUsageError(`unknown Keras architecture "${source}"; known: ${known}`);
  if (!opts.weights) throw new ImportUsageError(`${source} needs --weights <file>, e.g. Keras' ${app.weightsFile}`);
  const progress = opts.onProgress ?? (() => {});
  const modelConfig = app.config();
  const graph = readKerasGraph(modelConfig);
  const total = await fileSize(opts.weights).catch(() => {
    throw new ImportUsageError(`--weights ${opts.weights}: no such file`);
  });
  const weightsFile = opts.weights;
  const reading = fileReadProgress(opts, name, weightsFile, total);
  const weights = await readApplicationWeights(weightsFile, graph, reading.read).catch((err: unknown) => {
    throw unreadableKerasFile(err, weightsFile, 'Keras weights file');
  });
  reading.done();
  opts.signal?.throwIfAborted();
  const converted = convertKerasModel(modelConfig, weights, { onProgress: (m) => progress(`${name}: ${m}`) });
  return { converted, source: `${app.title} with ${basename(opts.weights)}`, ownPreprocess: app.preprocess, defaultLabels: 'imagenet' };
}

/** The weights of a `keras:<architecture>` import, from a weights-only or a full-model legacy `.h5`. */
async function readApplicationWeights(file: string, graph: KerasGraph, onRead: OnWeightsRead): Promise<Map<string, DecodedWeight>> {
  const h5 = await Hdf5File.open(file);
  try {
    // A weights-only file has layer_names at its root; a full-model .h5 keeps them under model_weights.
    const root = h5.attr('', 'layer_names') === undefined && h5.isGroup('model_weights') ? 'model_weights' : '';
    return readLegacyWeights(h5, root, graph, onRead);
  } finally {
    h5.close();
  }
}

/** A layer, activation or format the converter cannot handle is reported with the file it is in. */
async function namingTheSource<T>(source: string, convert: () => Promise<T>): Promise<T> {
  try {
    return await convert();
  } catch (err) {
    if (err instanceof ConversionError && !err.message.includes(source)) throw new ConversionError(`${source}: ${err.message}`);
    throw err;
  }
}

/**
 * Where the provenance note says the preprocessing mode came from, when the user did not pass one: a
 * Rescaling layer (mode none), or the architecture's own preprocess_input (keras:<architecture>).
 */
export function whyThisMode(own: PreprocessMode | undefined, given: PreprocessMode | undefined): string {
  if (!own || given) return '';
  return own === 'none' ? ' (the model rescales its own input)' : ' (the mode Keras uses for this architecture)';
}

/** A model that starts with a Rescaling layer is fed raw 0–255 pixels. */
function ownPreprocess(graph: KerasGraph): PreprocessMode | undefined {
  const input = graph.inputs[0]?.layer;
  const first = graph.layers.find((l) => l.inbound.some((refs) => refs.some((r) => r.layer === input)));
  return first?.className === 'Rescaling' ? 'none' : undefined;
}

async function readLabels(choice: string | undefined, classes: number): Promise<string[]> {
  if (choice === undefined) return Array.from({ length: classes }, (_, i) => `class_${i}`);
  const labels =
    choice === 'imagenet'
      ? await imagenetLabels()
      : (await readFile(choice, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new ImportUsageError(`--labels ${choice}: cannot read it (${err.code ?? err.message})`);
        }))
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l.length > 0);
  if (labels.length !== classes) {
    throw new ImportUsageError(`--labels ${choice} has ${labels.length} classes, but the model has ${classes} outputs`);
  }
  return labels;
}

/**
 * `My Model_v2.keras` → `my-model_v2`: the folder-name rule of model configs. Accented letters keep their
 * base letter (`Modèle` → `modele`, not `mod-le`).
 */
export function modelNameFrom(base: string): string {
  const name = base.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, MODEL_NAME_MAX).replace(/[^a-z0-9]+$/, '');
  return name || 'imported-model';
}
