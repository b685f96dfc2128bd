/**
 * A stored upload (one that does not travel inside its job) is read from UPLOAD_DIR, and a failure
 * there says whose fault it is: a file the worker cannot read is the deployment's
 * (UPLOAD_NOT_SHARED), a file that does not decode is the client's (IMAGE_UNREADABLE), and neither
 * answer shows this host's folders. Real ONNX Runtime and sharp, the generated tiny-rgb model.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobRejectedError, UPLOAD_DIR_MARK, type JobData } from '@icls/lib/job-contract';
import { fixtureModels, image, tempDir } from '../../tests/helpers/fixtures.ts';
import { Classifier } from './classifier.ts';
import { createJobHandler } from './job-handler.ts';
import { loadModelEntry } from './repository/model-repository.ts';

let classifier: Classifier;
let uploadDir: string;
before(async () => {
  const entry = await loadModelEntry(await fixtureModels(['tiny-rgb']), 'tiny-rgb');
  classifier = await Classifier.load(entry, { threads: 1, maxPixels: 50_000_000 });
  uploadDir = await tempDir('job-handler-uploads');
});
after(() => classifier.close());

const handler = () => createJobHandler({ classifiers: new Map([['tiny-rgb', classifier]]), uploadDir, workerId: 'test' });
const job = (name: string, imageData?: Buffer): JobData => ({
  id: name,
  image: name,
  imageData,
  model: 'tiny-rgb',
  deadline: Date.now() + 30_000,
  enqueuedAt: Date.now(),
  topK: 3,
});

async function rejection(name: string): Promise<JobRejectedError> {
  const err = await handler()(job(name)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof JobRejectedError, `rejected, got ${String(err)}`);
  return err;
}

it('a stored upload is classified exactly as the same bytes inside the job', async () => {
  const name = 'a1b2c3d4e5f60718293a4b5c6d7e8f90.png';
  await copyFile(image('astronaut.png'), join(uploadDir, name));
  const fromFile = await handler()(job(name));
  const fromBytes = await handler()(job(name, await readFile(image('astronaut.png'))));
  assert.deepEqual(fromFile.predictions, fromBytes.predictions);
});

it('a stored upload the worker cannot find is the deployment fault, named without the folder', async () => {
  const err = await rejection('00000000000000000000000000000000.png');
  assert.equal(err.failure.code, 'UPLOAD_NOT_SHARED');
  assert.match(err.failure.detail, /ENOENT.*IMAGE_TRANSPORT=bytes/);
  assert.ok(!err.failure.detail.includes(uploadDir), err.failure.detail);
});

it('a stored upload that does not decode is the client fault, and the answer shows no folder', async () => {
  const name = 'ffffffffffffffffffffffffffffffff.png';
  const png = await readFile(image('astronaut.png'));
  await writeFile(join(uploadDir, name), png.subarray(0, png.length >> 1));
  const err = await rejection(name);
  assert.equal(err.failure.code, 'IMAGE_UNREADABLE');
  assert.ok(!err.failure.detail.includes(uploadDir), err.failure.detail);
});

it('a forged name cannot read outside the upload folder', async () => {
  const err = await rejection('../../../../etc/passwd');
  assert.equal(err.failure.code, 'UPLOAD_NOT_SHARED');
});

describe('the spot check of an image sent inside its job', () => {
  /** What the spot check of one such job said, 2 s after it (nothing: undefined). */
  async function spotCheck(dir: string): Promise<string | undefined> {
    let said: string | undefined;
    const check = createJobHandler({ classifiers: new Map([['tiny-rgb', classifier]]), uploadDir: dir, workerId: 'test', onUnshared: (_job, detail) => (said = detail) });
    // A stored name no file has: the api never stored it, or stored it where this worker does not look.
    await check({ ...job('0123456789abcdef0123456789abcdef.png', await readFile(image('astronaut.png'))), sharedFile: true });
    await new Promise((r) => setTimeout(r, 2300));
    return said;
  }

  it('a folder without the api\'s mark is not the api\'s: the fix is to share it', async () => {
    assert.match((await spotCheck(await tempDir('unshared'))) ?? '', /not in the worker's UPLOAD_DIR 2 s later \(ENOENT\); give the workers the api's UPLOAD_DIR/);
  });

  it('beside the api\'s mark, a missing upload is one the api gave up on (a full or read-only disk): nothing misleading is said', async () => {
    const shared = await tempDir('shared');
    await writeFile(join(shared, UPLOAD_DIR_MARK), '');
    assert.equal(await spotCheck(shared), undefined);
  });
});
