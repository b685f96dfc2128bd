import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pullModel, LabelsCountError, type PullOptions, type PullProgress } from './pull.ts';
import { ChecksumMismatchError, HttpStatusError, NetworkError } from './download-errors.ts';
import { UnknownCatalogEntryError } from './catalog.ts';
import { loadModelEntry } from '../repository/model-repository.ts';
import { FakeMirror } from '../../test/fake-mirror.ts';
import { fixtureEntry, fixtureModelBytes, FIXTURE_LABELS } from '../../test/test-catalog.ts';

const FAST_RETRY = { retryDelayMs: 5, maxAttempts: 3, stallTimeoutMs: 2000 };

let mirror: FakeMirror;
let modelsDir: string;

before(async () => {
  mirror = await FakeMirror.start();
});
after(async () => {
  await mirror.close();
});
beforeEach(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'pull-test-'));
});
afterEach(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

/** A catalog entry whose files the mirror serves under its own name, with the model behaving as told. */
function publish(name: string, behaviour: Parameters<FakeMirror['serve']>[2] = 'normal', servedBody?: Uint8Array) {
  const bytes = fixtureModelBytes();
  const entry = fixtureEntry(name, bytes);
  mirror.serve(`${name}/model.onnx`, servedBody ?? bytes, behaviour);
  mirror.serve(`${name}/labels.txt`, FIXTURE_LABELS);
  return { entry, bytes };
}

async function assertNoTrace(dir: string): Promise<void> {
  assert.deepEqual(await readdir(dir), [], 'modelsDir must be left empty: no model folder, staging folder or temp file');
}

describe('pullModel', () => {
  test('a good download installs the folder with config, labels and model', async () => {
    const { entry, bytes } = publish('good');
    const dir = await pullModel('good', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl });

    assert.equal(dir, join(modelsDir, 'good'));
    assert.deepEqual(await readdir(modelsDir), ['good']);
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'labels.txt', 'model.onnx']);
    assert.deepEqual(new Uint8Array(await readFile(join(dir, 'model.onnx'))), bytes);
    assert.equal(await readFile(join(dir, 'labels.txt'), 'utf8'), FIXTURE_LABELS);

    const loaded = await loadModelEntry(modelsDir, 'good');
    assert.deepEqual(loaded.labels, ['red_thing', 'green_thing', 'blue_thing']);
    assert.equal(loaded.config.provenance?.sha256, entry.model.sha256);
    assert.match(loaded.config.provenance?.notes ?? '', /mirror/);
  });

  test('a corrupted body fails with ChecksumMismatchError and leaves no trace', async () => {
    const { entry } = publish('corrupt');
    const tampered = fixtureModelBytes(entry.model.sizeBytes);
    mirror.serve('corrupt/model.onnx', tampered);

    const err = await pullModel('corrupt', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl }).catch((e) => e);
    assert.ok(err instanceof ChecksumMismatchError, `got ${err}`);
    assert.equal(err.expected, entry.model.sha256);
    assert.notEqual(err.actual, entry.model.sha256);
    assert.match(err.message, /sha256 mismatch .*corrupt\/model\.onnx/);
    await assertNoTrace(modelsDir);
  });

  test('a connection dropped half way is resumed with a Range request', async () => {
    const { entry, bytes } = publish('dropped', 'drop-half-once');
    const dir = await pullModel('dropped', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl, download: FAST_RETRY });

    assert.deepEqual(new Uint8Array(await readFile(join(dir, 'model.onnx'))), bytes);
    const modelRequests = mirror.seen.filter((r) => r.path === '/dropped/model.onnx');
    assert.equal(modelRequests.length, 2);
    assert.equal(modelRequests[0]!.range, undefined);
    assert.equal(modelRequests[1]!.status, 206);
    const resumedAt = Number(modelRequests[1]!.range?.match(/^bytes=(\d+)-$/)?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= bytes.byteLength / 2, `resumed at ${modelRequests[1]!.range}`);
    assert.deepEqual(await readdir(modelsDir), ['dropped']);
  });

  test('a 404 fails with a clear HttpStatusError and leaves no trace', async () => {
    const { entry } = publish('missing');
    const moved = { ...entry, model: { ...entry.model, mirrorPath: 'missing/moved-away.onnx' } };

    const err = await pullModel('missing', modelsDir, { catalog: [moved], baseUrl: mirror.baseUrl }).catch((e) => e);
    assert.ok(err instanceof HttpStatusError, `got ${err}`);
    assert.equal(err.status, 404);
    assert.equal(err.message, `GET ${mirror.baseUrl}/missing/moved-away.onnx answered HTTP 404 Not Found (no such file at that address: check the URL or the mirror)`);
    await assertNoTrace(modelsDir);
  });

  test('the progress callback reaches 100% of the model', async () => {
    const { entry, bytes } = publish('progress');
    const events: PullProgress[] = [];
    await pullModel('progress', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl, onProgress: (p) => events.push(p) });

    const model = events.filter((e) => e.file === 'model');
    assert.ok(model.length >= 2, 'several reports for a multi-chunk body');
    for (let i = 1; i < model.length; i += 1) assert.ok(model[i]!.bytesDone >= model[i - 1]!.bytesDone, 'bytesDone never goes back');
    const last = model.at(-1)!;
    assert.equal(last.finished, true);
    assert.equal(last.bytesDone, bytes.byteLength);
    assert.equal(last.bytesTotal, bytes.byteLength);
    assert.equal(last.etaSeconds, 0);
    assert.equal(last.model, 'progress');
    assert.ok(events.some((e) => e.file === 'labels' && e.finished), 'labels report too');
  });

  test('a server that is not there fails with NetworkError naming the URL and attempts, leaving no trace', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { entry } = publish('unreachable');
    const retries: Parameters<NonNullable<PullOptions['onRetry']>>[0][] = [];

    const err = await pullModel('unreachable', modelsDir, {
      catalog: [entry],
      baseUrl: `http://127.0.0.1:${port}`,
      download: { retryDelayMs: 1, maxAttempts: 2 },
      onRetry: (r) => retries.push(r),
    }).catch((e) => e);
    assert.ok(err instanceof NetworkError, `got ${err}`);
    assert.equal(err.attempts, 2);
    // Nothing arrives, so no progress report: each wait between attempts is told instead.
    assert.equal(retries.length, 1);
    assert.deepEqual([retries[0]!.file, retries[0]!.failed, retries[0]!.maxAttempts], ['labels', 1, 2]);
    assert.match(retries[0]!.reason, /ECONNREFUSED/);
    assert.match(err.message, new RegExp(`could not download http://127\\.0\\.0\\.1:${port}/unreachable/labels\\.txt after 2 attempts: .*ECONNREFUSED`));
    await assertNoTrace(modelsDir);
  });

  test('a mirror behind a password: the URL\'s user and password go as Basic authentication, and no message or installed file shows the password', async () => {
    const { entry } = publish('private');
    mirror.requirePassword('reader', 'p@ss w:rd');
    try {
      const withPassword = (password: string) => mirror.baseUrl.replace('http://', `http://reader:${encodeURIComponent(password)}@`);
      const refused = await pullModel('private', modelsDir, { catalog: [entry], baseUrl: withPassword('wrong-one'), download: FAST_RETRY }).catch((e: Error) => e);
      assert.ok(refused instanceof Error);
      assert.match(refused.message, /answered HTTP 401 Unauthorized \(the server asks for a user and password: give them in the mirror's URL/);
      assert.doesNotMatch(refused.message, /wrong-one/);
      await assertNoTrace(modelsDir);

      const dir = await pullModel('private', modelsDir, { catalog: [entry], baseUrl: withPassword('p@ss w:rd') });
      const installed = (await Promise.all((await readdir(dir)).filter((f) => f !== 'model.onnx').map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
      assert.match(installed, /Downloaded through the mirror http:\/\/reader:\*\*\*@127\.0\.0\.1/);
      assert.doesNotMatch(installed, /p%40ss|p@ss/);
    } finally {
      mirror.requirePassword(undefined);
    }
  });

  test('MODELS_MIRROR_URL is the mirror when no baseUrl is given', async () => {
    const { entry } = publish('from-env');
    process.env.MODELS_MIRROR_URL = `${mirror.baseUrl}/`;
    try {
      await pullModel('from-env', modelsDir, { catalog: [entry] });
    } finally {
      delete process.env.MODELS_MIRROR_URL;
    }
    assert.deepEqual(await readdir(modelsDir), ['from-env']);
  });

  test('pulling again replaces the installed folder', async () => {
    const { entry } = publish('again');
    await pullModel('again', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl });
    await pullModel('again', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl });
    assert.deepEqual(await readdir(modelsDir), ['again']);
  });

  test('a folder at the name that is not a model is refused before anything is downloaded', async () => {
    const { entry } = publish('taken');
    await mkdir(join(modelsDir, 'taken'));
    await writeFile(join(modelsDir, 'taken', 'notes.txt'), 'mine');
    const before = mirror.seen.length;
    await assert.rejects(pullModel('taken', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl }), /taken exists and is not a model folder \(no config\.json\): move it away/);
    assert.equal(mirror.seen.length, before, 'no request reached the mirror');
    assert.deepEqual(await readdir(join(modelsDir, 'taken')), ['notes.txt']);
  });

  test('labels with the wrong number of lines are refused', async () => {
    const bytes = fixtureModelBytes(1024);
    const twoLabels = 'n00000001 red\nn00000002 green\n';
    const entry = fixtureEntry('short-labels', bytes, twoLabels);
    mirror.serve('short-labels/model.onnx', bytes);
    mirror.serve('short-labels/labels.txt', twoLabels);

    const err = await pullModel('short-labels', modelsDir, { catalog: [entry], baseUrl: mirror.baseUrl }).catch((e) => e);
    assert.ok(err instanceof LabelsCountError, `got ${err}`);
    assert.match(err.message, /2 lines but the model has 3 classes/);
    await assertNoTrace(modelsDir);
  });

  test('an unknown name lists what the catalog has', async () => {
    const { entry } = publish('known');
    await assert.rejects(pullModel('nope', modelsDir, { catalog: [entry] }), (err: unknown) => {
      assert.ok(err instanceof UnknownCatalogEntryError);
      assert.match(err.message, /"nope" is not in the catalog; available: known/);
      return true;
    });
  });
});
