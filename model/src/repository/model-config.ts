/**
 * The model config vocabulary: one `config.json` per `models/<name>/` folder.
 * It is the single description of how to feed a model and read its answer, so the
 * worker, the `models` command, the converter and the catalog all speak it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
// The name rule lives beside the job contract: the api's settings (DEFAULT_MODEL, MODELS) check it too.
import { MODEL_NAME_PATTERN } from '@icls/lib/job-contract';

const Rgb3 = Type.Tuple([Type.Number(), Type.Number(), Type.Number()]);

export const ModelConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: MODEL_NAME_PATTERN, description: 'folder name under models/' }),
    version: Type.String({ default: '1' }),
    description: Type.Optional(Type.String()),
    file: Type.String({ default: 'model.onnx' }),
    input: Type.Object({
      name: Type.String(),
      layout: Type.Union([Type.Literal('NCHW'), Type.Literal('NHWC')]),
      dtype: Type.Union([Type.Literal('float32'), Type.Literal('float16'), Type.Literal('uint8')]),
      width: Type.Integer({ minimum: 1, maximum: 4096 }),
      height: Type.Integer({ minimum: 1, maximum: 4096 }),
      /** Channel order the model expects; decoded pixels are always RGB. */
      channels: Type.Union([Type.Literal('RGB'), Type.Literal('BGR')]),
    }),
    preprocess: Type.Object({
      /** `stretch` ignores aspect ratio; the crop mode resizes the shorter side, then crops the centre. */
      resize: Type.Union([Type.Literal('stretch'), Type.Literal('shorter-side-then-center-crop')]),
      /** Shorter side before the centre crop (crop mode only); defaults to the crop size. */
      shorterSide: Type.Optional(Type.Integer({ minimum: 1, maximum: 8192 })),
      interpolation: Type.Union([
        Type.Literal('nearest'),
        Type.Literal('bilinear'),
        Type.Literal('bicubic'),
        Type.Literal('lanczos3'),
      ]),
      /** value = (pixel * scale - mean[c]) / std[c], per channel in the model's channel order. */
      scale: Type.Number(),
      mean: Rgb3,
      std: Rgb3,
    }),
    output: Type.Object({
      name: Type.String(),
      /** `logits` get a softmax; `probabilities` are used as they are. */
      kind: Type.Union([Type.Literal('logits'), Type.Literal('probabilities')]),
    }),
    labels: Type.Object({
      file: Type.String({ default: 'labels.txt' }),
      /**
       * How a line of labels.txt becomes the class name shown to users:
       * `raw` the whole line; `first` the first comma-separated name without a leading
       * WordNet id (`n02109961 Eskimo dog, husky` → `Eskimo dog`); `keras` the same with
       * spaces as underscores (`Eskimo_dog`), as the original Keras service printed them.
       */
      display: Type.Union([Type.Literal('raw'), Type.Literal('first'), Type.Literal('keras')]),
    }),
    /** `1` when the graph's batch dimension is fixed, `dynamic` when jobs may be batched. */
    batch: Type.Union([Type.Literal(1), Type.Literal('dynamic')]),
    provenance: Type.Optional(
      Type.Object({
        source: Type.String(),
        sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
        license: Type.Optional(Type.String()),
        notes: Type.Optional(Type.String()),
      }),
    ),
  },
  { additionalProperties: false },
);

export type ModelConfig = Static<typeof ModelConfigSchema>;

/**
 * The usual ImageNet preprocessing of torchvision-trained models (ResNet, MobileNet, …): shorter side to
 * 256, centre crop, [0,1], per-channel mean/std.
 */
export const IMAGENET_TORCH_PREPROCESS: ModelConfig['preprocess'] = {
  resize: 'shorter-side-then-center-crop',
  shorterSide: 256,
  interpolation: 'bilinear',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** Thrown when a config.json does not match the vocabulary; the message lists every problem. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** A value shown in a message: JSON, cut at 60 characters. */
const shown = (value: unknown): string => {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
};

/**
 * One problem as its author can fix it: for a field with a fixed set of values (layout, dtype,
 * interpolation, kind…), the value found and the ones allowed; TypeBox alone says "Expected union value".
 */
function problemText(e: ValueError): string {
  const choices = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
  if (!choices?.length || choices.some((c) => c === undefined)) return e.message;
  return `${shown(e.value)} is not one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
}

/** Validates an unknown JSON value as a model config, filling documented defaults. */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  const withDefaults = Value.Default(ModelConfigSchema, structuredClone(raw));
  const problems = [...Value.Errors(ModelConfigSchema, withDefaults)].slice(0, 10);
  if (problems.length > 0) {
    const lines = problems.map((e) => `  ${e.path || '/'}: ${problemText(e)}`);
    throw new ModelConfigError(`${where} is not a valid model config:\n${lines.join('\n')}`);
  }
  const config = withDefaults as ModelConfig;
  // A std of 0 divides by zero: every input value would be ±Infinity or NaN.
  if (config.preprocess.std.some((s) => s === 0)) {
    throw new ModelConfigError(`${where} is not a valid model config:\n  /preprocess/std: no value may be 0 (it divides)`);
  }
  return config;
}

/** Turns one labels.txt line into the name users see, per `labels.display`. */
export function displayLabel(line: string, display: ModelConfig['labels']['display']): string {
  if (display === 'raw') return line.trim();
  const withoutId = line.trim().replace(/^n\d{8}\s+/, '');
  const first = withoutId.split(',')[0]!.trim();
  return display === 'keras' ? first.replace(/\s+/g, '_') : first;
}
