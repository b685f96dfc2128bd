/**
 * A model whose config.json contradicts its graph is broken at load, with the reason, rather than
 * loaded and failing every request (or answering NaN scores as a success). Real ONNX Runtime, the
 * generated tiny-rgb model (NCHW float32 32×32, three classes), one config field changed per case.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { fixtureModels, tempDir } from '../../tests/helpers/fixtures.ts';
import { Classifier } from './classifier.ts';
import { loadModelEntry, type ModelEntry } from './repository/model-repository.ts';

/** tiny-rgb in a folder of its own, with `change` applied to its config.json (and labels.txt, if given). */
async function variant(change: (config: Record<string, any>) => void, labels?: string): Promise<string> {
  const dir = await tempDir('classifier-load');
  await cp(join(await fixtureModels(['tiny-rgb']), 'tiny-rgb'), join(dir, 'tiny-rgb'), { recursive: true });
  const file = join(dir, 'tiny-rgb', 'config.json');
  const config = JSON.parse(await readFile(file, 'utf8'));
  change(config);
  await writeFile(file, JSON.stringify(config));
  if (labels !== undefined) await writeFile(join(dir, 'tiny-rgb', 'labels.txt'), labels);
  return dir;
}

async function loads(dir: string): Promise<string | undefined> {
  let entry: ModelEntry;
  try {
    entry = await loadModelEntry(dir, 'tiny-rgb');
  } catch (err) {
    return (err as Error).message;
  }
  try {
    const classifier = await Classifier.load(entry, { threads: 1, maxPixels: 1_000_000 });
    await classifier.close();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

it('the config as generated loads', async () => {
  assert.equal(await loads(await variant(() => {})), undefined);
});

it('a config that contradicts the graph is broken at load, saying what to check', async () => {
  const cases: [string, string, (c: Record<string, any>) => void, string?][] = [
    ['input size', 'test run on a 224×224 NCHW float32 input failed (check input in config.json)', (c) => Object.assign(c.input, { width: 224, height: 224 })],
    ['layout', 'test run on a 32×32 NHWC float32 input failed', (c) => (c.input.layout = 'NHWC')],
    ['dtype', 'test run on a 32×32 NCHW uint8 input failed', (c) => (c.input.dtype = 'uint8')],
    ['labels', 'it gives 3 scores but labels.txt has 2 classes', () => {}, 'red\ngreen\n'],
    ['NaN scores', 'gave scores that are not numbers (NaN or infinite)', (c) => (c.preprocess.scale = 1e308)],
    ['std 0', '/preprocess/std: no value may be 0', (c) => (c.preprocess.std = [0, 1, 1])],
  ];
  for (const [what, expected, change, labels] of cases) {
    const message = await loads(await variant(change, labels));
    assert.ok(message?.includes(expected), `${what}: ${message}`);
  }
});
