/**
 * Opens a Keras model file, telling the kinds apart by content, not by name:
 * - a Keras 3 `.keras` archive (zip: `config.json` + `model.weights.h5`);
 * - a legacy full-model `.h5` (`model_config` attribute + `model_weights` group), Keras 2 or 3 form;
 * - a legacy weights-only `.h5` (root `layer_names`), which carries no architecture: it is refused
 *   here with a pointer to `keras:<architecture> --weights`, which supplies one.
 */
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversionError } from '../convert/conversion-error.ts';
import { kerasModelConfig, readKerasGraph, type KerasGraph } from '../convert/keras-topology.ts';
import type { DecodedWeight } from '../convert/tfjs-weights.ts';
import { Hdf5DamageError, Hdf5File, isHdf5 } from './hdf5-file.ts';
import { readKeras3Weights, readLegacyWeights, type OnWeightsRead } from './keras-weights.ts';
import { looksLikeZip, readZipEntries } from './zip-archive.ts';

export interface KerasModelFile {
  /** `{class_name, config}` as Keras wrote it. */
  modelConfig: { class_name: string; config: unknown };
  graph: KerasGraph;
  weights: Map<string, DecodedWeight>;
  /** What the file is, for messages and provenance: `Keras 3.15.1 .keras archive`. */
  description: string;
}

/** Thrown when a file is not a Keras model this importer can read; the message names the file. */
export class KerasFileError extends Error {
  override name = 'KerasFileError';
}

/** `.keras` archive, HDF5 file, an empty file, or neither, from the first bytes. */
export async function sniffModelFile(path: string): Promise<'zip' | 'hdf5' | 'empty' | 'other'> {
  const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    // The system's words alone ("EACCES: permission denied, open …") did not say it was the model file.
    throw err.code === 'EACCES' || err.code === 'EPERM' ? new KerasFileError(`${path} cannot be read: permission denied (${err.code}); let this user read it, or copy it somewhere it can`) : err;
  });
  let head: Buffer;
  let size: number;
  try {
    head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    size = (await handle.stat()).size;
  } finally {
    await handle.close();
  }
  if (size === 0) return 'empty';
  if (looksLikeZip(head)) return 'zip';
  return (await isHdf5(path)) ? 'hdf5' : 'other';
}

/** Reads a `.keras` or full-model `.h5` file: its config and its weights, named for the converter. */
export async function readKerasFile(path: string, onRead?: OnWeightsRead): Promise<KerasModelFile> {
  const kind = await sniffModelFile(path);
  if (kind === 'empty') throw new KerasFileError(`${path} is empty (0 bytes): a download or copy that did not finish? Fetch it again`);
  if (kind === 'other') throw new KerasFileError(`${path} is neither a Keras .keras archive (zip) nor an HDF5 .h5 file`);
  try {
    return kind === 'zip' ? await readKerasArchive(path, onRead) : await readKerasH5(path, onRead);
  } catch (err) {
    throw unreadableKerasFile(err, path);
  }
}

/**
 * A Keras file whose HDF5 the library cannot read (a download or copy cut short, a disk error) is
 * reported as the file the user gave, with what to do; the library's reason is kept for the curious.
 * Other errors are returned as they are.
 * @param what what the file should have been, for the message
 */
export function unreadableKerasFile(err: unknown, path: string, what = 'Keras file'): unknown {
  if (!(err instanceof Hdf5DamageError)) return err;
  return new KerasFileError(
    `${path} is not a readable ${what}: its HDF5 data is truncated or corrupt (${err.reason}). Download, copy or save it again`,
    { cause: err },
  );
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KerasFileError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readKerasArchive(path: string, onRead?: OnWeightsRead): Promise<KerasModelFile> {
  const entries = await readZipEntries(path, ['config.json', 'metadata.json', 'model.weights.h5']);
  const config = entries.get('config.json');
  const weightsH5 = entries.get('model.weights.h5');
  if (!config || !weightsH5) {
    throw new KerasFileError(`${path} is a zip but not a Keras 3 .keras archive: it lacks ${config ? 'model.weights.h5' : 'config.json'}`);
  }
  const modelConfig = kerasModelConfig(parseJson(Buffer.from(config).toString('utf8'), `${path}: config.json`), `${path}: config.json`);
  const meta = entries.get('metadata.json');
  const version = meta ? (parseJson(Buffer.from(meta).toString('utf8'), `${path}: metadata.json`) as { keras_version?: string }).keras_version : undefined;
  const graph = readKerasGraph(modelConfig);
  // h5wasm reads from the file system, so the weights entry goes to a private temporary file.
  const dir = await mkdtemp(join(tmpdir(), 'keras-import-'));
  try {
    const file = join(dir, 'model.weights.h5');
    await writeFile(file, weightsH5, { mode: 0o600 });
    const h5 = await Hdf5File.open(file, { shownAs: `${path} (model.weights.h5)` });
    try {
      const weights = withWhere(path, () => readKeras3Weights(h5, graph, onRead));
      return { modelConfig, graph, weights, description: `Keras ${version ?? '3'} .keras archive` };
    } finally {
      h5.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readKerasH5(path: string, onRead?: OnWeightsRead): Promise<KerasModelFile> {
  const h5 = await Hdf5File.open(path);
  try {
    const raw = h5.attr('', 'model_config');
    if (raw === undefined) {
      if (h5.attr('', 'layer_names') !== undefined || h5.attr('', 'layer_names0') !== undefined) {
        throw new KerasFileError(
          `${path} holds only weights (root attribute layer_names, no model_config): it has no architecture to convert. ` +
            'For a Keras Applications weights file use `import keras:resnet50 --weights <file>`',
        );
      }
      throw new KerasFileError(`${path} is an HDF5 file but not a Keras model: it has no model_config attribute`);
    }
    const modelConfig = kerasModelConfig(parseJson(String(raw), `${path}: model_config`), `${path}: model_config`);
    const graph = readKerasGraph(modelConfig);
    if (!h5.isGroup('model_weights')) throw new KerasFileError(`${path} has a model_config but no model_weights group`);
    const weights = withWhere(path, () => readLegacyWeights(h5, 'model_weights', graph, onRead));
    const version = h5.attr('', 'keras_version');
    return { modelConfig, graph, weights, description: `Keras ${typeof version === 'string' ? version : '2'} legacy .h5 file` };
  } finally {
    h5.close();
  }
}

/** Conversion errors from inside a file name the file the user gave, not a temporary copy. */
function withWhere<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConversionError && !err.message.includes(path)) throw new ConversionError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Size of a file in bytes, for progress totals. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
