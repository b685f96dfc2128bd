import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModelEntry } from '../repository/model-repository.ts';
import { PREFERRED_DEFAULT_MODEL as DEFAULT_MODEL_NAME } from '@icls/lib/default-model';
import { ensureDefaultModel, importNsfwjs } from './nsfwjs-import.ts';
import { locateNsfwjsPackage, readNsfwjsClassNames } from './nsfwjs-package.ts';

describe('nsfwjs import', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsfwjs-import-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the class order from the installed package', async () => {
    assert.deepEqual(await readNsfwjsClassNames(await locateNsfwjsPackage()), ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
  });

  it('builds the default model on first use, with progress, and leaves it alone afterwards', async () => {
    const messages: string[] = [];
    const started = performance.now();
    assert.equal(await ensureDefaultModel(dir, (m) => messages.push(m)), DEFAULT_MODEL_NAME);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(messages.some((m) => /converting it from the nsfwjs package/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /ready in/.test(m)));

    const entry = await loadModelEntry(dir, DEFAULT_MODEL_NAME);
    assert.deepEqual(entry.labels, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    assert.deepEqual(entry.config.input, { name: 'input', layout: 'NHWC', dtype: 'float32', width: 224, height: 224, channels: 'RGB' });
    assert.deepEqual(entry.config.preprocess, { resize: 'stretch', interpolation: 'bilinear', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] });
    assert.deepEqual(entry.config.output, { name: 'probabilities', kind: 'probabilities' });
    assert.match(entry.config.provenance!.source, /^nsfwjs \d+\.\d+\.\d+ \(npm, MIT\) converted by models import$/);
    assert.equal(entry.config.provenance!.license, 'MIT');
    console.log(`default model built in ${seconds.toFixed(1)} s`);

    const again: string[] = [];
    assert.equal(await ensureDefaultModel(dir, (m) => again.push(m)), DEFAULT_MODEL_NAME);
    assert.deepEqual(again, [], 'nothing to do the second time');
  });

  it('reports a broken default model instead of overwriting it', async () => {
    await writeFile(join(dir, DEFAULT_MODEL_NAME, 'config.json'), '{"name": "nsfw-mobilenetv2"}');
    await assert.rejects(ensureDefaultModel(dir, () => {}), /default model nsfw-mobilenetv2 .* is broken: .*delete that folder/s);
  });

  it('imports the 299×299 InceptionV3 variant config', { skip: process.env['PARITY_ALL'] === '1' ? false : 'writes 89 MB; set PARITY_ALL=1' }, async () => {
    const path = await importNsfwjs('inceptionv3', dir);
    const entry = await loadModelEntry(dir, 'nsfw-inceptionv3');
    assert.equal(path, join(dir, 'nsfw-inceptionv3'));
    assert.equal(entry.config.input.width, 299);
  });

  it('rejects an unknown variant', async () => {
    await assert.rejects(importNsfwjs('resnet' as never, dir), /unknown nsfwjs variant "resnet" \(known: mobilenetv2, mobilenetv2-mid, inceptionv3\)/);
  });
});
