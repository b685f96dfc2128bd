import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig } from '../repository/model-config.ts';
import { CATALOG, ZOO_COMMIT, findCatalogEntry, resolveFileUrl } from './catalog.ts';
import { CatalogFileError, loadCatalog } from './catalog-file.ts';
import { fixtureEntry, fixtureModelBytes } from '../../test/test-catalog.ts';

describe('catalog', () => {
  test('every entry is a valid model config named like its folder', () => {
    for (const entry of CATALOG) {
      const config = parseModelConfig(entry.config, entry.name);
      assert.equal(config.name, entry.name);
      assert.equal(config.provenance?.sha256, entry.model.sha256);
      assert.equal(config.labels.display, 'keras');
      assert.match(entry.model.sha256, /^[0-9a-f]{64}$/);
      assert.ok(entry.model.sizeBytes > 1_000_000);
      assert.equal(entry.classes, 1000);
    }
  });

  test('files come from the pinned zoo commit: weights from LFS media, labels raw', () => {
    for (const entry of CATALOG) {
      assert.equal(
        entry.model.url,
        `https://media.githubusercontent.com/media/onnx/models/${ZOO_COMMIT}/${entry.model.mirrorPath}`,
      );
      assert.match(entry.model.mirrorPath!, /^validated\/vision\/classification\/.+\.onnx$/);
      assert.equal(entry.labels.url, `https://raw.githubusercontent.com/onnx/models/${ZOO_COMMIT}/validated/vision/classification/synset.txt`);
    }
  });

  test('the locally checked mobilenetv2-12-int8 entry has the exact zoo bytes', () => {
    const entry = findCatalogEntry(CATALOG, 'mobilenetv2-12-int8');
    assert.equal(entry.model.sizeBytes, 3655033);
    assert.equal(entry.model.sha256, 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f');
    assert.deepEqual(entry.config.input, { name: 'input', layout: 'NCHW', dtype: 'float32', width: 224, height: 224, channels: 'RGB' });
    assert.deepEqual(entry.config.output, { name: 'output', kind: 'logits' });
  });

  test('resnet50-v1-12 has the bytes of the zoo\'s validated/ LFS pointer at the pinned commit (issue 9)', () => {
    const entry = findCatalogEntry(CATALOG, 'resnet50-v1-12');
    assert.equal(entry.model.sizeBytes, 102_576_593);
    assert.equal(entry.model.sha256, '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526');
    assert.match(entry.model.checksumSource!, /validated\/vision\/classification\/resnet\/model\/resnet50-v1-12\.onnx at the pinned commit 4c46cd00/);
  });

  test('every entry says where its size and sha256 were read', () => {
    for (const entry of CATALOG) assert.ok((entry.model.checksumSource ?? '').length > 20, entry.name);
  });

  test('EfficientNet-Lite4 is NHWC with (pixel - 127) / 128 and gives probabilities', () => {
    const { config } = findCatalogEntry(CATALOG, 'efficientnet-lite4-11');
    assert.equal(config.input.layout, 'NHWC');
    assert.equal(config.input.name, 'images:0');
    assert.deepEqual([config.preprocess.scale, config.preprocess.mean, config.preprocess.std], [1, [127, 127, 127], [128, 128, 128]]);
    assert.deepEqual(config.output, { name: 'Softmax:0', kind: 'probabilities' });
    assert.equal(config.batch, 1);
  });

  test('a mirror serves the same repository path', () => {
    const entry = findCatalogEntry(CATALOG, 'squeezenet1.1-7');
    assert.equal(
      resolveFileUrl(entry.model, 'http://127.0.0.1:8000/zoo/'),
      'http://127.0.0.1:8000/zoo/validated/vision/classification/squeezenet/model/squeezenet1.1-7.onnx',
    );
    assert.equal(resolveFileUrl(entry.model), entry.model.url);
    assert.equal(resolveFileUrl({ url: 'https://a.example/x/y.onnx', sizeBytes: 1, sha256: '0'.repeat(64) }, 'http://m'), 'http://m/x/y.onnx');
  });

  test('an extra catalog file adds entries and reports malformed ones by position', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'catalog-test-'));
    try {
      const extra = fixtureEntry('private-model', fixtureModelBytes(10));
      const good = join(dir, 'good.json');
      await writeFile(good, JSON.stringify([extra]));
      const merged = await loadCatalog(good);
      assert.equal(merged.length, CATALOG.length + 1);
      assert.equal(findCatalogEntry(merged, 'private-model').model.sha256, extra.model.sha256);

      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify([{ ...extra, model: { ...extra.model, sha256: 'abc' } }]));
      await assert.rejects(loadCatalog(bad), (err: unknown) => {
        assert.ok(err instanceof CatalogFileError);
        assert.match(err.message, /bad\.json entry 0 \("private-model"\) model: "sha256" must be 64 lower-case hex digits/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
