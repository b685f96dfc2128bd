/**
 * Installing over an existing model: a model that answers differently but repeats the old one's
 * version gets the next version, so the result cache never gives the old one's answers for it; the same
 * model installed again keeps its version. And files replaced by hand, the version left as it was, give
 * the model another build (what the cache is keyed by). Real files, a generated model.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { tempDir } from '../../../tests/helpers/fixtures.ts';
import { generateModel } from '../generate/generate.ts';
import { installModel, loadModelEntry, ModelNotFoundError, modelBuild, reasonForClients, replacementVersion } from './model-repository.ts';

const source = await tempDir('models-src');
await generateModel('tiny-rgb', source);
const entry = await loadModelEntry(source, 'tiny-rgb');
const onnx = new Uint8Array(await readFile(entry.modelPath));
const labels = (await readFile(`${entry.dir}/${entry.config.labels.file}`, 'utf8')).trim().split('\n');

const installedVersion = async (dir: string) => (await loadModelEntry(dir, 'tiny-rgb')).config.version;

it('the same model installed again keeps its version; one that answers differently gets the next', async () => {
  const dir = await tempDir('models');
  await installModel(dir, { config: entry.config, labels, onnx });
  assert.equal(await installedVersion(dir), '1');
  await installModel(dir, { config: entry.config, labels, onnx: onnx.slice() });
  assert.equal(await installedVersion(dir), '1', 'same graph, labels and preprocessing');
  const otherGraph = onnx.slice();
  otherGraph[otherGraph.length - 1] ^= 0xff;
  await installModel(dir, { config: entry.config, labels, onnx: otherGraph });
  assert.equal(await installedVersion(dir), '2', 'another graph under the same name and version');
  await installModel(dir, { config: entry.config, labels: labels.map((l) => `${l}!`), onnx: otherGraph });
  assert.equal(await installedVersion(dir), '3', 'other labels');
  await installModel(dir, { config: entry.config, labels: labels.map((l) => `${l}!`), onnx: otherGraph });
  assert.equal(await installedVersion(dir), '3', 'the same model again, its config saying 1: it stays 3');
  await installModel(dir, { config: { ...entry.config, version: '7' }, labels, onnx });
  assert.equal(await installedVersion(dir), '7', 'a higher version the new config chose itself is kept');
});

it('raises the last number of a version, or adds one', () => {
  const id = (version: string, digest: string) => ({ version, digest });
  assert.equal(replacementVersion(id('1.4', 'a'), id('1.4', 'b')), '1.5');
  assert.equal(replacementVersion(id('beta', 'a'), id('beta', 'b')), 'beta.2');
  assert.equal(replacementVersion(undefined, id('1', 'b')), '1');
  assert.equal(replacementVersion(id('4', 'a'), id('1', 'b')), '5', 'never back to a version that named another model');
  assert.equal(replacementVersion(id('beta', 'a'), id('rc1', 'b')), 'rc1');
});

it('a model\'s build is its version and a digest of its files: files replaced by hand under the same version change it', async () => {
  const dir = await tempDir('models');
  await installModel(dir, { config: entry.config, labels, onnx });
  const build = () => loadModelEntry(dir, 'tiny-rgb').then(modelBuild);
  const first = await build();
  assert.match(first, /^1\+[0-9a-f]{12}$/);
  assert.equal(await build(), first, 'the same files, the same build');
  const loaded = await loadModelEntry(dir, 'tiny-rgb');
  const labelsPath = `${loaded.dir}/${loaded.config.labels.file}`;
  await writeFile(labelsPath, labels.map((l) => `${l}!`).join('\n') + '\n');
  const relabelled = await build();
  assert.match(relabelled, /^1\+/, 'the version is still the config\'s');
  assert.notEqual(relabelled, first, 'other labels');
  await writeFile(labelsPath, labels.join('\n') + '\n');
  assert.equal(await build(), first, 'the old labels back');
  const otherGraph = onnx.slice();
  otherGraph[otherGraph.length - 1] ^= 0xff;
  await writeFile(loaded.modelPath, otherGraph);
  assert.notEqual(await build(), first, 'another graph');
});

it('a config.json that is there but cannot be read is reported as such, not as a missing model', async () => {
  const dir = await tempDir('models');
  await mkdir(join(dir, 'odd', 'config.json'), { recursive: true });
  await assert.rejects(loadModelEntry(dir, 'odd'), (err: Error) => {
    assert.ok(!(err instanceof ModelNotFoundError), err.message);
    assert.match(err.message, /^model "odd": cannot read .*config\.json \(EISDIR/);
    return true;
  });
  await assert.rejects(loadModelEntry(dir, 'none'), ModelNotFoundError);
});

it('installing never replaces what is not a model folder: a file, or a folder without config.json', async () => {
  const dir = await tempDir('models');
  await mkdir(join(dir, 'tiny-rgb'));
  await writeFile(join(dir, 'tiny-rgb', 'notes.txt'), 'precious');
  await assert.rejects(installModel(dir, { config: entry.config, labels, onnx }), /tiny-rgb exists and is not a model folder \(no config\.json\)/);
  assert.equal(await readFile(join(dir, 'tiny-rgb', 'notes.txt'), 'utf8'), 'precious');
  const other = await tempDir('models');
  await writeFile(join(other, 'tiny-rgb'), 'a file');
  await assert.rejects(installModel(other, { config: entry.config, labels, onnx }), /not a model folder/);
  const empty = await tempDir('models');
  await mkdir(join(empty, 'tiny-rgb'));
  await installModel(empty, { config: entry.config, labels, onnx });
  assert.equal(await installedVersion(empty), '1', 'an empty folder is taken');
});

it('a reason for clients names paths relative to MODELS_DIR, however MODELS_DIR was written', async () => {
  const dir = await tempDir('models-reason');
  await mkdir(join(dir, 'second'));
  await writeFile(join(dir, 'second', 'config.json'), '{"name": "other"');
  const reason = await loadModelEntry(dir, 'second').then(
    () => '',
    (err: Error) => err.message,
  );
  assert.ok(reason.includes(dir), reason);
  assert.equal(reasonForClients(reason, dir), reason.replace(`${dir}/`, ''));
  assert.match(reasonForClients(reason, dir), /^second\/config\.json is not valid JSON/);
  assert.equal(reasonForClients(`Load model from ${dir}/a/model.onnx failed`, `${dir}/`), 'Load model from a/model.onnx failed');
  assert.equal(reasonForClients('Load model from models/a/model.onnx failed', './models'), 'Load model from a/model.onnx failed');
  assert.equal(reasonForClients('/etc/x', '/'), '/etc/x', 'MODELS_DIR=/ takes nothing out');
});
