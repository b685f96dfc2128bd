/**
 * Opt-in fidelity check of `import keras:resnet50 --weights` against real Keras output (not a test:
 * the 98 MB weights file is never committed). Reads ../shared/data/keras-style material:
 *   node --conditions=source --import tsx scripts/check-keras-resnet50.ts <keras-dir> <images-dir>
 * <keras-dir> holds resnet50_seed0_legacy.h5, resnet50_seed0_reference.json (Keras' top-5 per photo)
 * and resnet50_dog_input_nhwc.f32 (Keras' preprocessed dog.jpeg). Prints the input-tensor difference
 * on dog.jpeg and the largest top-5 probability difference per photo; exits 1 when a target is missed
 * (tensor not identical, or any probability more than 1e-4 away).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRgb } from '@icls/model/image/image';
import { Classifier } from '@icls/model/classifier';
import { importModel } from '@icls/model/import/model-import';
import { pixelsToTensor } from '@icls/model/preprocess/pixels-to-tensor';
import { loadModelEntry } from '@icls/model/repository/model-repository';

const [kerasDir, imagesDir] = process.argv.slice(2);
if (!kerasDir || !imagesDir) {
  console.error('usage: node --conditions=source --import tsx scripts/check-keras-resnet50.ts <keras-dir> <images-dir>');
  process.exit(2);
}
const TOLERANCE = 1e-4;
const floats = async (path: string): Promise<Float32Array> => {
  const b = await readFile(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
interface Reference {
  images: Record<string, { top5: { index: number; class: string; p: number }[] }>;
}

const modelsDir = await mkdtemp(join(tmpdir(), 'check-keras-resnet50-'));
let failed = false;
try {
  const started = performance.now();
  await importModel('keras:resnet50', modelsDir, { weights: join(kerasDir, 'resnet50_seed0_legacy.h5'), onProgress: () => {} });
  console.log(`import keras:resnet50 --weights resnet50_seed0_legacy.h5: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const entry = await loadModelEntry(modelsDir, 'keras-resnet50');

  const { input, preprocess } = entry.config;
  const plan = { width: input.width, height: input.height, mode: preprocess.resize, shorterSide: input.width, interpolation: preprocess.interpolation };
  const ours = pixelsToTensor(await decodeRgb(join(imagesDir, 'dog.jpeg'), plan, 100_000_000), entry.config).data;
  const keras = await floats(join(kerasDir, 'resnet50_dog_input_nhwc.f32'));
  let tensorDiff = 0;
  let differing = 0;
  for (let i = 0; i < keras.length; i++) {
    const d = Math.abs(ours[i]! - keras[i]!);
    if (d > 0) differing++;
    tensorDiff = Math.max(tensorDiff, d);
  }
  console.log(`dog.jpeg input tensor vs Keras: max |Δ| ${tensorDiff}, ${differing} of ${keras.length} values differ`);
  failed ||= differing > 0;

  const reference = JSON.parse(await readFile(join(kerasDir, 'resnet50_seed0_reference.json'), 'utf8')) as Reference;
  // ImageNet has duplicate names (two "crane"s), so the classifier ranks class indices here; the
  // names shown are checked against Keras' decode_predictions names separately.
  const names = entry.labels;
  const classifier = await Classifier.load({ ...entry, labels: names.map((_, i) => String(i)) }, { threads: 0, maxPixels: 100_000_000 });
  console.log('| image | Keras top-1 | ours top-1 | max |Δp| over Keras top-5 |\n|---|---|---|---|');
  let worst = 0;
  for (const [image, ref] of Object.entries(reference.images)) {
    const got = await classifier.classify(join(imagesDir, image), 1000);
    const scoreOf = new Map(got.predictions.map((p) => [Number(p.label), p.score]));
    const diffs = ref.top5.map((r) => Math.abs((scoreOf.get(r.index) ?? NaN) - r.p));
    const diff = diffs.some(Number.isNaN) ? Infinity : Math.max(...diffs);
    const misnamed = ref.top5.filter((r) => names[r.index] !== r.class).map((r) => `${r.index}: ours ${names[r.index]}, Keras ${r.class}`);
    if (misnamed.length > 0) console.log(`label names differ from decode_predictions: ${misnamed.join('; ')}`);
    failed ||= misnamed.length > 0;
    worst = Math.max(worst, diff);
    const top = got.predictions[0]!;
    console.log(`| ${image} | ${ref.top5[0]!.class} ${ref.top5[0]!.p.toFixed(4)} | ${names[Number(top.label)]} ${top.score.toFixed(4)} | ${diff.toExponential(2)} |`);
  }
  await classifier.close();
  console.log(`worst top-5 probability difference: ${worst.toExponential(2)} (target ≤ ${TOLERANCE})`);
  failed ||= !(worst <= TOLERANCE);
} finally {
  await rm(modelsDir, { recursive: true, force: true });
}
console.log(failed ? 'FIDELITY TARGET MISSED' : 'fidelity targets met');
process.exit(failed ? 1 : 0);
