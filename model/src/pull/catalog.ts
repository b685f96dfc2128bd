/**
 * The catalog of models `models pull` can fetch: ONNX Model Zoo ImageNet classifiers, each with the
 * exact bytes expected (size and sha256 from the zoo's own Git LFS pointer files) and the config that
 * feeds it the way the zoo's documentation says. A wrong preprocessing config does not fail, it just
 * gives wrong answers, so every number here cites where it comes from. Extra entries from a user's
 * file: `catalog-file.ts`.
 */
import { IMAGENET_TORCH_PREPROCESS, type ModelConfig } from '../repository/model-config.ts';

/**
 * The zoo is pinned to one commit of github.com/onnx/models, so a URL always names the same bytes;
 * the sha256 check would catch a change anyway, but a pinned URL never breaks when files move
 * (they moved once already, from `vision/` to `validated/vision/`).
 */
export const ZOO_COMMIT = '4c46cd00fbdb7cd30b6c1c17ab54f2e1f4f7b177';
/** Weights are stored with Git LFS; this host serves the real bytes (raw.githubusercontent would serve the pointer). */
const ZOO_MEDIA_BASE = `https://media.githubusercontent.com/media/onnx/models/${ZOO_COMMIT}`;
/** Small text files are plain Git blobs. */
const ZOO_RAW_BASE = `https://raw.githubusercontent.com/onnx/models/${ZOO_COMMIT}`;

/** One file to download and the bytes it must have. */
export interface RemoteFile {
  url: string;
  /**
   * Path under a mirror (`MODELS_MIRROR_URL` or `baseUrl`): a mirror replicates the zoo's tree, so this
   * is the path inside the onnx/models repository. Defaults to the URL's path.
   */
  mirrorPath?: string;
  sizeBytes: number;
  /** Lower-case hex sha256 of the whole file. */
  sha256: string;
  /** Where size and sha256 were read, so anyone can re-check them. */
  checksumSource?: string;
}

/** A model the `pull` command can install. */
export interface CatalogEntry {
  /** Folder name under models/ and the name users type; equals `config.name`. */
  name: string;
  /** One line for listings. */
  title: string;
  license: string;
  /** Output classes; the labels file must have exactly this many lines. */
  classes: number;
  model: RemoteFile;
  /** One label per output class, in output order, written to labels.txt. */
  labels: RemoteFile;
  /** Written as config.json; `provenance` is completed at pull time. */
  config: ModelConfig;
}

/**
 * A zoo weights file. `checksumSource` says which Git LFS pointer file (repository path and commit) the
 * size and sha256 were read from, so anyone can re-read the same pointer and compare.
 */
function zooModelFile(path: string, sizeBytes: number, sha256: string, checksumSource: string): RemoteFile {
  return { url: `${ZOO_MEDIA_BASE}/${path}`, mirrorPath: path, sizeBytes, sha256, checksumSource };
}

/**
 * ImageNet's 1000 synsets in output order, `n01440764 tench, Tinca tinca` per line; shared by every
 * entry below (the TensorFlow-born EfficientNet-Lite4 uses the same order, without a background class).
 * Not an LFS file: size and sha256 were computed from the file itself (31675 bytes, 1000 lines).
 */
export const IMAGENET_SYNSET: RemoteFile = {
  url: `${ZOO_RAW_BASE}/validated/vision/classification/synset.txt`,
  mirrorPath: 'validated/vision/classification/synset.txt',
  sizeBytes: 31675,
  sha256: 'acf75ef0abe89694b19056e0796401068b459c457baa30335f240c7692857355',
  checksumSource: 'computed from validated/vision/classification/synset.txt (a plain Git file, no LFS pointer)',
};

/**
 * The zoo's "imagenet_preprocess.py" for its MXNet/PyTorch-born models: shorter side to 256 (bilinear),
 * centre 224×224 crop, values /255 then mean/std per RGB channel.
 */
const IMAGENET_TORCH_STYLE: ModelConfig['preprocess'] = IMAGENET_TORCH_PREPROCESS;

interface EntrySpec {
  name: string;
  title: string;
  license: string;
  model: RemoteFile;
  input: ModelConfig['input'];
  preprocess: ModelConfig['preprocess'];
  output: ModelConfig['output'];
  batch: ModelConfig['batch'];
  notes: string;
}

function entry(spec: EntrySpec): CatalogEntry {
  return {
    name: spec.name,
    title: spec.title,
    license: spec.license,
    classes: 1000,
    model: spec.model,
    labels: IMAGENET_SYNSET,
    config: {
      name: spec.name,
      version: '1',
      description: spec.title,
      file: 'model.onnx',
      input: spec.input,
      preprocess: spec.preprocess,
      output: spec.output,
      // `keras` prints `Eskimo_dog`, as the original Keras service did.
      labels: { file: 'labels.txt', display: 'keras' },
      batch: spec.batch,
      provenance: { source: spec.model.url, sha256: spec.model.sha256, license: spec.license, notes: spec.notes },
    },
  };
}

const nchw224 = (name: string): ModelConfig['input'] => ({
  name,
  layout: 'NCHW',
  dtype: 'float32',
  width: 224,
  height: 224,
  channels: 'RGB',
});

/** The built-in catalog, smallest download first. */
export const CATALOG: readonly CatalogEntry[] = [
  entry({
    name: 'mobilenetv2-12-int8',
    title: 'MobileNetV2 1.0 int8 (quantised), ImageNet 1000 classes',
    license: 'Apache-2.0',
    model: zooModelFile(
      'validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
      3655033,
      'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
      'Git LFS pointer onnx/models:vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx at 8b137f96 ' +
        '(same values in the validated/ pointer at the pinned commit; sha256 also checked on the file itself)',
    ),
    input: nchw224('input'),
    preprocess: IMAGENET_TORCH_STYLE,
    output: { name: 'output', kind: 'logits' },
    batch: 'dynamic',
    notes:
      'ONNX Model Zoo mobilenetv2-12 quantised to int8 with Intel Neural Compressor; float32 input/output, ' +
      'quantisation is internal. Input [batch_size,3,224,224] → output [batch_size,1000] logits.',
  }),
  entry({
    name: 'squeezenet1.1-7',
    title: 'SqueezeNet 1.1, ImageNet 1000 classes',
    license: 'Apache-2.0',
    model: zooModelFile(
      'validated/vision/classification/squeezenet/model/squeezenet1.1-7.onnx',
      4956208,
      '1eeff551a67ae8d565ca33b572fc4b66e3ef357b0eb2863bb9ff47a918cc4088',
      'Git LFS pointer onnx/models:vision/classification/squeezenet/model/squeezenet1.1-7.onnx at 9ef45be2 ' +
        '(same values in the validated/ pointer at the pinned commit)',
    ),
    input: nchw224('data'),
    preprocess: IMAGENET_TORCH_STYLE,
    // The zoo README names the output `softmaxout_1` [1,1000,1,1]; that belongs to the Caffe2 SqueezeNet 1.0.
    // This MXNet Gluon export ends in a flatten with no softmax: `squeezenet0_flatten0_reshape0` [1,1000] logits.
    output: { name: 'squeezenet0_flatten0_reshape0', kind: 'logits' },
    batch: 1,
    notes: 'MXNet Gluon SqueezeNet 1.1 exported at opset 7; input data [1,3,224,224] (batch fixed at 1).',
  }),
  entry({
    name: 'mobilenetv2-12',
    title: 'MobileNetV2 1.0 float32, ImageNet 1000 classes',
    license: 'Apache-2.0',
    model: zooModelFile(
      'validated/vision/classification/mobilenet/model/mobilenetv2-12.onnx',
      13964571,
      'c0c3f76d93fa3fd6580652a45618618a220fced18babf65774ed169de0432ad5',
      'not in the searchable copy of onnx/models; size from the xetdata/onnx-models mirror, sha256 as pinned by ' +
        'several projects for this zoo URL',
    ),
    input: nchw224('input'),
    preprocess: IMAGENET_TORCH_STYLE,
    output: { name: 'output', kind: 'logits' },
    batch: 'dynamic',
    notes: 'ONNX Model Zoo MobileNetV2 (width 1.0) at opset 12; input [batch_size,3,224,224] → output [batch_size,1000] logits.',
  }),
  entry({
    name: 'efficientnet-lite4-11',
    title: 'EfficientNet-Lite4 float32 (NHWC, [-1,1] input), ImageNet 1000 classes',
    license: 'MIT',
    model: zooModelFile(
      'validated/vision/classification/efficientnet-lite4/model/efficientnet-lite4-11.onnx',
      51946641,
      'd111689907c06eea7c82e4833ddef758da6453b9d4cf60b7e99ca05c7cbd9c12',
      'Git LFS pointer onnx/models:vision/classification/efficientnet-lite4/model/efficientnet-lite4.onnx at 1455c754 ' +
        '(same values in the validated/ pointer of efficientnet-lite4-11.onnx at the pinned commit)',
    ),
    // TensorFlow-born: channels last, batch of 1 baked into the graph.
    input: { name: 'images:0', layout: 'NHWC', dtype: 'float32', width: 224, height: 224, channels: 'RGB' },
    // The README's pre_process_edgetpu: shorter side to 224/0.875 = 256 (cv2 INTER_LINEAR), centre crop 224,
    // then (pixel - 127) / 128 on 0–255 values, i.e. roughly [-1, 1].
    preprocess: {
      resize: 'shorter-side-then-center-crop',
      shorterSide: 256,
      interpolation: 'bilinear',
      scale: 1,
      mean: [127, 127, 127],
      std: [128, 128, 128],
    },
    // The graph ends in a softmax: its output is already probabilities.
    output: { name: 'Softmax:0', kind: 'probabilities' },
    batch: 1,
    notes:
      'TensorFlow EfficientNet-Lite4 converted with tf2onnx at opset 11; input images:0 [1,224,224,3] NHWC ' +
      '→ Softmax:0 [1,1000] probabilities. Licence as stated in the zoo README (MIT).',
  }),
  entry({
    name: 'resnet50-v1-12',
    title: 'ResNet50 v1 float32, ImageNet 1000 classes',
    license: 'Apache-2.0',
    // An older pointer (vision/…/resnet50-v1-12.onnx at 652f4e4a) says ab65bdc0…b3b6 / 102,576,419 bytes: that is
    // an earlier upload of the file, not what the pinned commit serves, so a pull with it always failed its check.
    model: zooModelFile(
      'validated/vision/classification/resnet/model/resnet50-v1-12.onnx',
      102576593,
      '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526',
      'Git LFS pointer onnx/models:validated/vision/classification/resnet/model/resnet50-v1-12.onnx at the pinned ' +
        'commit 4c46cd00 (and at the repository head), as read for issue 9',
    ),
    input: nchw224('data'),
    preprocess: IMAGENET_TORCH_STYLE,
    output: { name: 'resnetv17_dense0_fwd', kind: 'logits' },
    batch: 'dynamic',
    notes:
      'MXNet Gluon ResNet50 v1 at opset 12 (the ResNet50 family of the original Keras service, but trained and ' +
      'normalised differently: RGB mean/std, not Keras caffe-style BGR). Input data [N,3,224,224] → ' +
      'resnetv17_dense0_fwd [N,1000] logits.',
  }),
];

/** Thrown for a name the catalog does not have; the message lists the names it does have. */
export class UnknownCatalogEntryError extends Error {
  override name = 'UnknownCatalogEntryError';
}

/** The entry called `name`, or an error that lists what can be pulled. */
export function findCatalogEntry(catalog: readonly CatalogEntry[], name: string): CatalogEntry {
  const found = catalog.find((e) => e.name === name);
  if (found) return found;
  const names = catalog.map((e) => e.name).join(', ');
  throw new UnknownCatalogEntryError(`"${name}" is not in the catalog; available: ${names || '(none)'}`);
}

/**
 * The URL to fetch `file` from: its own, or the same repository path under a mirror
 * (`https://mirror.example/zoo` + `validated/vision/…/model.onnx`).
 */
export function resolveFileUrl(file: RemoteFile, mirrorBaseUrl?: string): string {
  if (!mirrorBaseUrl) return file.url;
  const path = file.mirrorPath ?? new URL(file.url).pathname.replace(/^\/+/, '');
  return `${mirrorBaseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
