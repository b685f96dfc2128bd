/**
 * Parity of converted nsfwjs models with the originals: the same input batch goes through
 * TF.js (cpu backend, loaded from the very bytes the converter reads) and through the ONNX
 * model in onnxruntime-node, and every probability must agree within 1e-4.
 *
 * MobileNetV2 (the default model) runs by default. MobileNetV2Mid (~6 s per image on TF.js's
 * cpu backend) and InceptionV3 (~20 s per image) run only with PARITY_ALL=1; the graph converter
 * they rely on is also covered quickly by layer-mapping.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readNsfwjsModel, type NsfwjsModelFolder } from '../import/nsfwjs-package.ts';
import {
  argmaxRows,
  batchOf,
  flatColour,
  loadTfjsModel,
  maxAbsDiff,
  ortSession,
  photoAsInput,
  predictOrt,
  predictTfjs,
  seededUniform,
} from '../../test/parity-support.ts';
import { convertTfjsModel } from './tfjs-to-onnx.ts';

const TOLERANCE = 1e-4;
const PHOTO_DIR = fileURLToPath(new URL('../../../tests/fixtures/images/', import.meta.url));
const PHOTOS = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'];

interface NamedInput {
  name: string;
  data: Float32Array;
}

async function parityInputs(size: number): Promise<NamedInput[]> {
  const inputs: NamedInput[] = [
    { name: 'random seed 1', data: seededUniform(size * size * 3, 1) },
    { name: 'random seed 2', data: seededUniform(size * size * 3, 2) },
    { name: 'black', data: flatColour(size, [0, 0, 0]) },
    { name: 'white', data: flatColour(size, [1, 1, 1]) },
    { name: 'mid grey', data: flatColour(size, [0.5, 0.5, 0.5]) },
    { name: 'skin tone', data: flatColour(size, [0.87, 0.67, 0.55]) },
  ];
  for (const photo of PHOTOS) inputs.push({ name: photo, data: await photoAsInput(join(PHOTO_DIR, photo), size) });
  return inputs;
}

async function checkParity(folder: NsfwjsModelFolder): Promise<void> {
  const files = await readNsfwjsModel(folder);
  const started = performance.now();
  const converted = convertTfjsModel(files.modelJson, files.weightData);
  const convertMs = performance.now() - started;
  assert.deepEqual(converted.unusedWeights, [], 'every weight of the model is used');
  assert.equal(converted.output.kind, 'probabilities');
  assert.equal(converted.output.name, 'probabilities');

  const size = converted.input.height;
  const inputs = await parityInputs(size);
  const shape = [inputs.length, size, size, 3];
  const batch = batchOf(inputs.map((i) => i.data));
  const classes = converted.output.classes;

  const session = await ortSession(converted.onnx);
  const onnxOut = await predictOrt(session, batch, shape);
  const tfModel = await loadTfjsModel(files.modelJson, files.weightData);
  const tfOut = predictTfjs(tfModel, batch, shape);
  tfModel.dispose();

  let worst = 0;
  const tfTop = argmaxRows(tfOut, classes);
  const onnxTop = argmaxRows(onnxOut, classes);
  inputs.forEach((input, i) => {
    const row = (a: Float32Array) => a.subarray(i * classes, (i + 1) * classes);
    const diff = maxAbsDiff(row(tfOut), row(onnxOut));
    worst = Math.max(worst, diff);
    assert.ok(diff <= TOLERANCE, `${folder} on ${input.name}: |Δp| ${diff} > ${TOLERANCE} (tfjs ${row(tfOut)}, onnx ${row(onnxOut)})`);
    assert.equal(onnxTop[i], tfTop[i], `${folder} on ${input.name}: top class differs`);
  });

  // The batched run above used the dynamic batch; a single image must give the same answer.
  const single = await predictOrt(session, inputs[6]!.data, [1, size, size, 3]);
  assert.ok(maxAbsDiff(single, onnxOut.subarray(6 * classes, 7 * classes)) < 1e-6, 'batch of 1 equals row of a batch');

  const timings: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    await predictOrt(session, inputs[6 + (i % PHOTOS.length)]!.data, [1, size, size, 3]);
    timings.push(performance.now() - t);
  }
  const median = timings.slice(1).sort((a, b) => a - b)[2]!;
  console.log(
    `parity ${folder}: max |Δp| = ${worst.toExponential(2)} over ${inputs.length} inputs (tolerance ${TOLERANCE}); ` +
      `conversion ${convertMs.toFixed(0)} ms; ORT ${median.toFixed(1)} ms/image (median, default threads)`,
  );
  await session.release();
}

const ALL = process.env['PARITY_ALL'] === '1';
const SLOW = ALL ? false : 'slow on the TF.js cpu backend (about a minute or more); set PARITY_ALL=1';

describe('converted nsfwjs models match TF.js', () => {
  it('MobileNetV2 (layers model, the default model)', { timeout: 300_000 }, () => checkParity('mobilenet_v2'));
  it('MobileNetV2Mid (graph model)', { timeout: 600_000, skip: SLOW }, () => checkParity('mobilenet_v2_mid'));
  it('InceptionV3 (layers model, 299×299)', { timeout: 1_800_000, skip: SLOW }, () => checkParity('inception_v3'));
});
