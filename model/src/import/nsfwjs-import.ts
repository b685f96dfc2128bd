/**
 * Turns the models bundled with the nsfwjs npm package into `models/nsfw-<variant>/` folders
 * (model.onnx + config.json + labels.txt), converting them from TF.js in-process. This is how the
 * service gets its default model on a user's first start without downloading anything.
 */
import { PREFERRED_DEFAULT_MODEL as DEFAULT_MODEL_NAME } from '@icls/lib/default-model';
import { createHash } from 'node:crypto';
import type { ModelConfig } from '../repository/model-config.ts';
import { convertTfjsModel } from '../convert/tfjs-to-onnx.ts';
import { installModel, loadModelEntry, ModelNotFoundError } from '../repository/model-repository.ts';
import { readNsfwjsClassNames, readNsfwjsModel, type NsfwjsModelFolder } from './nsfwjs-package.ts';
import { formatBytes } from '../pull/format-units.ts';

export type NsfwjsVariant = 'mobilenetv2' | 'mobilenetv2-mid' | 'inceptionv3';

export const NSFWJS_VARIANTS: readonly NsfwjsVariant[] = ['mobilenetv2', 'mobilenetv2-mid', 'inceptionv3'];

interface VariantInfo {
  folder: NsfwjsModelFolder;
  /** nsfwjs's own name for the model. */
  title: string;
  /** The `size` option nsfwjs classifies at (its IMAGE_SIZE default, or the model's options.size). */
  size: number;
  /** What the service should know about the model's quality/speed trade-off. */
  blurb: string;
}

const VARIANTS: Record<NsfwjsVariant, VariantInfo> = {
  mobilenetv2: { folder: 'mobilenet_v2', title: 'MobileNetV2', size: 224, blurb: 'small and fast (nsfwjs default)' },
  'mobilenetv2-mid': {
    folder: 'mobilenet_v2_mid',
    title: 'MobileNetV2Mid',
    size: 224,
    blurb: 'MobileNetV2 trained on more data; graph model with its own [0,1]→[-1,1] input scaling',
  },
  inceptionv3: { folder: 'inception_v3', title: 'InceptionV3', size: 299, blurb: 'largest and slowest' },
};

/** The folder name a variant is installed under. */
export function nsfwjsModelName(variant: NsfwjsVariant): string {
  return `nsfw-${variant}`;
}

/**
 * How nsfwjs's own `NSFWJS.infer` prepares an image (dist/esm/core.js), which the config must
 * reproduce for the converted model to give nsfwjs's answers.
 */
const PREPROCESS_NOTES =
  'Preprocessing reproduces nsfwjs classify(): RGB pixels / 255 (range [0,1], no mean/std), ' +
  'then tf.image.resizeBilinear(img, [size, size], alignCorners=true) straight to the square, ignoring the ' +
  'aspect ratio (= resize "stretch"; skipped when the image already has that size). The vocabulary has no ' +
  'align-corners flag, so "bilinear" here is the service\'s resizer (half-pixel centres): pixel-exact only for ' +
  'images already at the input size, otherwise a slight resampling difference from nsfwjs. ' +
  'Input NHWC float32, converted from TF.js to ONNX (NCHW inside the graph); output is softmax probabilities ' +
  'in nsfwjs class order.';

/**
 * Converts one nsfwjs model to `<modelsDir>/nsfw-<variant>/` (config.json, labels.txt, model.onnx),
 * replacing an existing folder atomically. Returns the folder path.
 */
export async function importNsfwjs(
  variant: NsfwjsVariant,
  modelsDir: string,
  opts: { onProgress?: (msg: string) => void; signal?: AbortSignal } = {},
): Promise<string> {
  const info = VARIANTS[variant];
  if (!info) throw new Error(`unknown nsfwjs variant "${variant}" (known: ${NSFWJS_VARIANTS.join(', ')})`);
  const progress = opts.onProgress ?? (() => {});
  const started = performance.now();
  const name = nsfwjsModelName(variant);

  const files = await readNsfwjsModel(info.folder);
  progress(`${name}: read nsfwjs ${files.package.version} ${info.title} (${formatBytes(files.weightData.length)} of weights)`);
  const labels = await readNsfwjsClassNames(files.package);

  const converted = convertTfjsModel(files.modelJson, files.weightData, {
    onProgress: (msg) => progress(`${name}: ${msg}`),
  });
  checkShape(variant, info, converted.input, converted.output.classes, labels.length);
  if (converted.unusedWeights.length > 0) {
    throw new Error(
      `${name}: conversion left ${converted.unusedWeights.length} weights unused (${converted.unusedWeights.slice(0, 3).join(', ')}…); ` +
        'the converter missed part of the model, please report this',
    );
  }

  const config: ModelConfig = {
    name,
    version: '1',
    description: `nsfwjs ${info.title}, ${info.size}×${info.size} input, ${info.blurb}. Classes: ${labels.join(', ')}`,
    file: 'model.onnx',
    input: {
      name: converted.input.name,
      layout: 'NHWC',
      dtype: 'float32',
      width: converted.input.width,
      height: converted.input.height,
      channels: 'RGB',
    },
    preprocess: { resize: 'stretch', interpolation: 'bilinear', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    output: { name: converted.output.name, kind: converted.output.kind },
    labels: { file: 'labels.txt', display: 'raw' },
    batch: 'dynamic',
    provenance: {
      source: `nsfwjs ${files.package.version} (npm, ${files.package.license}) converted by models import`,
      sha256: createHash('sha256').update(converted.onnx).digest('hex'),
      license: files.package.license,
      notes: PREPROCESS_NOTES,
    },
  };
  progress(`${name}: writing ${formatBytes(converted.onnx.length)} ONNX model`);
  const dir = await installModel(modelsDir, { config, labels, onnx: converted.onnx }, { signal: opts.signal });
  progress(`${name}: ready in ${dir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return dir;
}

/** The converted graph must be what nsfwjs feeds and reads, or the config would lie. */
function checkShape(
  variant: NsfwjsVariant,
  info: VariantInfo,
  input: { height: number; width: number; channels: number },
  classes: number,
  labelCount: number,
): void {
  if (input.height !== info.size || input.width !== info.size || input.channels !== 3) {
    throw new Error(
      `nsfwjs ${variant}: model input is ${input.height}×${input.width}×${input.channels}, but nsfwjs classifies at ${info.size}×${info.size}×3; the package changed, update VARIANTS`,
    );
  }
  if (classes !== labelCount) {
    throw new Error(`nsfwjs ${variant}: model has ${classes} outputs but NSFW_CLASSES names ${labelCount}`);
  }
}

/**
 * Makes sure the service's default model exists, converting it from the nsfwjs package when the
 * folder is missing (first start). An existing but broken folder is reported, not overwritten,
 * since it may hold the user's edits. Returns the model name.
 */
export async function ensureDefaultModel(modelsDir: string, log: (msg: string) => void): Promise<string> {
  try {
    await loadModelEntry(modelsDir, DEFAULT_MODEL_NAME);
    return DEFAULT_MODEL_NAME;
  } catch (err) {
    if (!(err instanceof ModelNotFoundError)) {
      throw new Error(
        `default model ${DEFAULT_MODEL_NAME} in ${modelsDir} is broken: ${(err as Error).message}. ` +
          'Fix it, or delete that folder to have it rebuilt from the nsfwjs package on the next start.',
      );
    }
  }
  log(`default model ${DEFAULT_MODEL_NAME} not found in ${modelsDir}; converting it from the nsfwjs package (one-time, a few seconds)`);
  try {
    await importNsfwjs('mobilenetv2', modelsDir, { onProgress: log });
  } catch (err) {
    // Another process (api and worker starting together) may have installed it meanwhile; its
    // atomic rename can make ours fail. If a valid model is there now, that is the goal reached.
    const installedMeanwhile = await loadModelEntry(modelsDir, DEFAULT_MODEL_NAME).then(
      () => true,
      () => false,
    );
    if (!installedMeanwhile) throw err;
    log(`default model ${DEFAULT_MODEL_NAME} was installed by another process meanwhile (${(err as Error).message})`);
  }
  return DEFAULT_MODEL_NAME;
}
