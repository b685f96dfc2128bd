/**
 * `models generate <kind>`: builds one of the project's own models from code and installs it
 * into the models folder. Deterministic (seeded weights, no clock, no downloads), so the same
 * kind always yields the same bytes and generated models never need to be committed.
 */
import { installModel } from '../repository/model-repository.ts';
import { formatBytes } from '../pull/format-units.ts';
import { GENERATED_KINDS, type GeneratedKind, type GeneratedModel } from './generated-model.ts';
import { buildMobilenetV2 } from './mobilenetv2.ts';
import { buildResnet50 } from './resnet50.ts';
import { buildTiny } from './tiny.ts';

export { GENERATED_KINDS, type GeneratedKind, type GeneratedModel };

export interface GenerateOptions {
  /** Folder name under the models folder; defaults to the kind. */
  name?: string;
  onProgress?: (msg: string) => void;
  /** Aborted (Ctrl-C): nothing is installed. */
  signal?: AbortSignal;
}

/** Narrows a user-supplied string (e.g. a CLI argument) to a generated kind. */
export function isGeneratedKind(value: string): value is GeneratedKind {
  return (GENERATED_KINDS as readonly string[]).includes(value);
}

/** Builds the graph, config and labels of a generated model without touching the disk. */
export function buildGeneratedModel(kind: GeneratedKind, opts: GenerateOptions = {}): GeneratedModel {
  const name = opts.name ?? kind;
  switch (kind) {
    case 'tiny-rgb':
    case 'tiny-slow':
      return buildTiny(kind, name);
    case 'resnet50-random':
      return buildResnet50(name, opts.onProgress);
    case 'mobilenetv2-random':
      return buildMobilenetV2(name, opts.onProgress);
    default:
      throw new Error(`unknown generated model kind "${kind as string}"; known: ${GENERATED_KINDS.join(', ')}`);
  }
}

/**
 * Generates a model of the given kind and installs it atomically as `modelsDir/<name>`
 * (replacing any folder of that name). Reports steps, the parameter count and the size through
 * `onProgress`. Returns the installed folder.
 */
export async function generateModel(kind: GeneratedKind, modelsDir: string, opts: GenerateOptions = {}): Promise<string> {
  if (!isGeneratedKind(kind)) {
    throw new Error(`unknown generated model kind "${kind as string}"; known: ${GENERATED_KINDS.join(', ')}`);
  }
  const progress = opts.onProgress ?? (() => {});
  // Lines name the folder being made, as import's do: with --name, several models of one kind can be made.
  const name = opts.name ?? kind;
  const started = performance.now();
  progress(`${name}: building ${kind} graph`);
  const model = buildGeneratedModel(kind, opts);
  const { graph } = model;
  const macs = model.macs > 0 ? `, ${(model.macs / 1e9).toFixed(2)} G multiply-accumulates per image` : '';
  progress(`${name}: ${graph.parameterCount.toLocaleString('en-US')} parameters, ${graph.nodeCount} nodes${macs}`);
  // The graph is named after the kind, not the folder, so a kind always serialises to the same bytes.
  const onnx = graph.toBytes(kind);
  progress(`${name}: serialised ${formatBytes(onnx.length)}`);
  const dir = await installModel(modelsDir, { config: model.config, labels: model.labels, onnx }, { signal: opts.signal });
  progress(`${name}: installed ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}
