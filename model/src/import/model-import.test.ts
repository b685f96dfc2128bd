/**
 * `models import` against Keras itself: the small Keras 3.15.1 fixtures (tests/fixtures/keras) are
 * converted from both file forms and their ONNX outputs compared with Keras' own on the same inputs.
 * Also the TF.js folder route (checked against TF.js) and the errors a user meets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Classifier } from '../classifier.ts';
import { loadModelEntry } from '../repository/model-repository.ts';
import { layersModelArtifacts, maxAbsDiff, ortSession, predictOrt, predictTfjs, seededUniform, useTfjsCpu } from '../../test/parity-support.ts';
import { importedModelName, importModel, ImportUsageError, modelNameFrom, whyThisMode } from './model-import.ts';
import { readZipEntries } from './zip-archive.ts';

const FIXTURES = fileURLToPath(new URL('../../../tests/fixtures/keras/', import.meta.url));
const PHOTOS = fileURLToPath(new URL('../../../tests/fixtures/images/', import.meta.url));
const TOLERANCE = 1e-5;

async function floats(file: string): Promise<Float32Array> {
  const b = await readFile(join(FIXTURES, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The installed model's ONNX run on the fixture's 4 inputs, against Keras' outputs. */
async function worstDiffAgainstKeras(modelsDir: string, name: string, fixture: string): Promise<number> {
  const entry = await loadModelEntry(modelsDir, name);
  const session = await ortSession(await readFile(entry.modelPath));
  assert.deepEqual(session.inputNames, [entry.config.input.name], 'config names the graph input');
  assert.deepEqual(session.outputNames, [entry.config.output.name], 'config names the graph output');
  const out = await predictOrt(session, await floats(`${fixture}_input.f32`), [4, 32, 32, 3]);
  await session.release();
  return maxAbsDiff(out, await floats(`${fixture}_output.f32`));
}

describe('models import: Keras files', () => {
  let modelsDir: string;
  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'keras-import-test-'));
  });
  after(() => rm(modelsDir, { recursive: true, force: true }));

  for (const fixture of ['tiny_resnet', 'tiny_mobilenet']) {
    for (const ext of ['.keras', '.h5']) {
      test(`${fixture}${ext} gives Keras' outputs within ${TOLERANCE}`, async () => {
        const name = `${fixture.replace('_', '-')}${ext.replace('.', '-')}`;
        // tiny_mobilenet starts with Rescaling, so it says its own preprocessing; tiny_resnet does not.
        const preprocess = fixture === 'tiny_resnet' ? 'caffe' : undefined;
        await importModel(join(FIXTURES, `${fixture}${ext}`), modelsDir, { name, preprocess });
        const diff = await worstDiffAgainstKeras(modelsDir, name, fixture);
        assert.ok(diff <= TOLERANCE, `max |Δ| ${diff}`);
        const { config, labels } = await loadModelEntry(modelsDir, name);
        assert.equal(config.output.kind, 'probabilities');
        assert.deepEqual(config.preprocess, {
          resize: 'stretch',
          interpolation: 'nearest',
          ...(fixture === 'tiny_resnet'
            ? { scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] }
            : { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }),
        });
        assert.equal(config.input.channels, fixture === 'tiny_resnet' ? 'BGR' : 'RGB');
        assert.equal(labels[0], 'class_0');
      });
    }
  }

  test('a tf.keras 2.x style .h5 (Keras 2 config form, kernel:0 weight names) gives the same outputs', async () => {
    await importModel(join(FIXTURES, 'tiny_resnet_keras2.h5'), modelsDir, { preprocess: 'caffe' });
    const diff = await worstDiffAgainstKeras(modelsDir, 'tiny_resnet_keras2', 'tiny_resnet');
    assert.ok(diff <= TOLERANCE, `max |Δ| ${diff}`);
    assert.match((await loadModelEntry(modelsDir, 'tiny_resnet_keras2')).config.provenance!.source, /Keras 2\.8\.0 legacy \.h5 file/);
  });

  test('the installed folder is served as it is: the worker\'s classifier loads it and answers', async () => {
    await importModel(join(FIXTURES, 'tiny_mobilenet.keras'), modelsDir, { name: 'served' });
    const classifier = await Classifier.load(await loadModelEntry(modelsDir, 'served'), { threads: 1, maxPixels: 50_000_000 });
    try {
      const { predictions } = await classifier.classify(join(PHOTOS, 'chelsea.png'), 5);
      assert.equal(predictions.length, 5);
      assert.ok(predictions.every((p) => /^class_[0-4]$/.test(p.label)));
      assert.ok(Math.abs(predictions.reduce((sum, p) => sum + p.score, 0) - 1) < 1e-5, 'probabilities of the 5 classes');
    } finally {
      await classifier.close();
    }
  });

  test('Ctrl-C during a step stops the import when that step ends: a file read, nothing converted', async () => {
    const cancel = new AbortController();
    const seen: string[] = [];
    const reason = new Error('cancelled with Ctrl-C: nothing was installed');
    await assert.rejects(
      importModel(join(FIXTURES, 'tiny_mobilenet.keras'), modelsDir, {
        name: 'cancelled',
        signal: cancel.signal,
        // The Ctrl-C comes while the file is read (its progress is reported during that step).
        onProgress: (p) => {
          seen.push(typeof p === 'string' ? p : 'reading');
          cancel.abort(reason);
        },
      }),
      (err: unknown) => err === reason,
    );
    assert.ok(!seen.some((line) => /converting/.test(line)), `converted after the Ctrl-C: ${seen.join(' | ')}`);
    await assert.rejects(loadModelEntry(modelsDir, 'cancelled'));
  });

  test('a model that does not scale its own input needs --preprocess', async () => {
    await assert.rejects(importModel(join(FIXTURES, 'tiny_resnet.keras'), modelsDir, { name: 'x' }), (err: unknown) => {
      assert.ok(err instanceof ImportUsageError);
      assert.match(err.message, /tiny_resnet\.keras does not say how it scales its input pixels .* --preprocess caffe\|tf\|torch\|unit\|none/);
      return true;
    });
  });

  test('--preprocess unit feeds x / 255 and nothing else (a model trained on pixels rescaled by 1/255)', async () => {
    await importModel(join(FIXTURES, 'tiny_resnet.h5'), modelsDir, { name: 'unit', preprocess: 'unit' });
    const { config } = await loadModelEntry(modelsDir, 'unit');
    assert.equal(config.input.channels, 'RGB');
    assert.deepEqual({ scale: config.preprocess.scale, mean: config.preprocess.mean, std: config.preprocess.std }, { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] });
  });

  test('--labels must name every class; `imagenet` is 1000', async () => {
    const labels = join(modelsDir, 'labels.txt');
    await writeFile(labels, 'cat\ndog\n');
    const opts = { name: 'y', preprocess: 'tf' as const };
    await assert.rejects(importModel(join(FIXTURES, 'tiny_resnet.h5'), modelsDir, { ...opts, labels }), /has 2 classes, but the model has 10 outputs/);
    await assert.rejects(importModel(join(FIXTURES, 'tiny_resnet.h5'), modelsDir, { ...opts, labels: 'imagenet' }), /has 1000 classes, but the model has 10/);
  });

  test('an HDF5 file that is not a Keras model says so', async () => {
    // The weights of a .keras archive are HDF5 without any model config.
    const weights = (await readZipEntries(join(FIXTURES, 'tiny_resnet.keras'), ['model.weights.h5'])).get('model.weights.h5')!;
    const file = join(modelsDir, 'weights-only.h5');
    await writeFile(file, weights);
    await assert.rejects(importModel(file, modelsDir, { preprocess: 'tf' }), /weights-only\.h5 is an HDF5 file but not a Keras model: it has no model_config attribute/);
    await assert.rejects(importModel(join(FIXTURES, 'tiny_resnet.json'), modelsDir, { preprocess: 'tf' }), /tiny_resnet\.json is neither a Keras \.keras archive \(zip\) nor an HDF5 \.h5 file/);
  });

  test('an empty file says it is empty, and a TF.js folder whose model.json is broken says it is not valid JSON', async () => {
    const empty = join(modelsDir, 'half-done.h5');
    await writeFile(empty, '');
    await assert.rejects(importModel(empty, modelsDir, { preprocess: 'tf' }), /half-done\.h5 is empty \(0 bytes\): a download or copy that did not finish\? Fetch it again/);
    const folder = join(modelsDir, 'broken-tfjs');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'model.json'), '{"modelTopology": ');
    await assert.rejects(importModel(folder, modelsDir, { name: 'broken', preprocess: 'tf' }), /broken-tfjs\/model\.json is not valid JSON: /);
  });

  test('keras:resnet50 refuses weights saved from another architecture, naming its layers', async () => {
    await assert.rejects(importModel('keras:resnet50', modelsDir, {}), /keras:resnet50 needs --weights <file>/);
    await assert.rejects(
      importModel('keras:resnet50', modelsDir, { weights: join(FIXTURES, 'tiny_resnet.h5') }),
      /tiny_resnet\.h5 holds weights for layers the model does not have: b1_1_conv, b1_1_bn, b1_2_conv/,
    );
    await assert.rejects(importModel('keras:vgg16', modelsDir, { weights: 'x.h5' }), /unknown Keras architecture "keras:vgg16"; known: keras:resnet50/);
  });
});

describe('models import: TF.js folder', () => {
  test('a layers model folder converts and matches TF.js', { timeout: 120_000 }, async () => {
    const tf = await useTfjsCpu();
    const dir = await mkdtemp(join(tmpdir(), 'tfjs-import-test-'));
    try {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, activation: 'relu', name: 'c1' }),
          tf.layers.globalAveragePooling2d({ name: 'gap' }),
          tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
        ],
      });
      const { modelJson, weightData } = await layersModelArtifacts(model);
      const folder = join(dir, 'My TFJS model');
      await mkdir(folder);
      await writeFile(join(folder, 'model.json'), JSON.stringify(modelJson));
      await writeFile(join(folder, 'weights.bin'), weightData);
      const modelsDir = join(dir, 'models');
      await importModel(folder, modelsDir, { preprocess: 'tf' });
      const entry = await loadModelEntry(modelsDir, 'my-tfjs-model');
      assert.deepEqual([entry.config.preprocess.scale, entry.config.preprocess.mean], [1 / 127.5, [1, 1, 1]]);
      const input = seededUniform(2 * 16 * 16 * 3, 7);
      const session = await ortSession(await readFile(entry.modelPath));
      const diff = maxAbsDiff(await predictOrt(session, input, [2, 16, 16, 3]), predictTfjs(model, input, [2, 16, 16, 3]));
      await session.release();
      model.dispose();
      assert.ok(diff <= TOLERANCE, `max |Δ| ${diff}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('the folder name from a file name has no leading or trailing hyphen', () => {
  assert.equal(modelNameFrom('My Model (v2)'), 'my-model-v2');
  assert.equal(modelNameFrom('__x__'), 'x');
  assert.equal(modelNameFrom('((()))'), 'imported-model');
  assert.equal(modelNameFrom('Modèle Éléphant'), 'modele-elephant', 'accents keep their letter');
  assert.equal(modelNameFrom('ＭｏｄｅｌＡ'), 'modela', 'full-width letters are letters');
  assert.equal(modelNameFrom('猫の分類'), 'imported-model');
});

test('the provenance note says where the preprocessing mode came from', () => {
  assert.equal(whyThisMode('none', undefined), ' (the model rescales its own input)');
  assert.equal(whyThisMode('caffe', undefined), ' (the mode Keras uses for this architecture)', 'keras:resnet50: no Rescaling layer');
  assert.equal(whyThisMode('caffe', 'tf'), '', 'the user chose');
  assert.equal(whyThisMode(undefined, 'tf'), '');
});

test('the default name drops the Keras extension whatever its case (Model.H5 installed as model.h5)', () => {
  assert.equal(importedModelName('/downloads/Model.H5'), 'model');
  assert.equal(importedModelName('Weird Name (v2).KERAS'), 'weird-name-v2');
  assert.equal(importedModelName('weights.hdf5'), 'weights');
  assert.equal(importedModelName('my_model.keras'), 'my_model');
  assert.equal(importedModelName('tfjs-folder/'), 'tfjs-folder');
  assert.equal(importedModelName('keras:resnet50'), 'keras-resnet50');
});
