/**
 * A model.onnx ONNX Runtime refuses is reported in words a user can act on: the file, that it is not a
 * valid ONNX model, and ONNX Runtime's reason without its C++ source file, line and function. Real
 * ONNX Runtime on damaged files made here; through the classifier too, which is how a worker at start,
 * `models info` and `models list` report it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureModels, ROOT, tempDir } from '../../../tests/helpers/fixtures.ts';
import { Classifier } from '../classifier.ts';
import { GraphBuilder } from '../onnx/onnx-builder.ts';
import { loadModelEntry } from '../repository/model-repository.ts';
import { OnnxModelError, OnnxSession, withoutSourceLocations } from './onnx-engine.ts';

/** What no message may show: a C++ source file and line, or a C++ signature. */
const SOURCE_LOCATION = /\.(cc|h):\d+|onnxruntime::|onnxruntime_src/;

/** The reason ONNX Runtime gives when it cannot open `bytes` as model.onnx. */
async function openError(bytes: Uint8Array): Promise<{ path: string; message: string }> {
  const path = join(await tempDir('onnx-errors'), 'model.onnx');
  await writeFile(path, bytes);
  const err = await OnnxSession.open(path, { threads: 1 }).then(
    () => assert.fail('ONNX Runtime opened it'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OnnxModelError, String(err));
  assert.doesNotMatch(err.message, SOURCE_LOCATION);
  return { path, message: err.message };
}

/** tiny-rgb with its model.onnx replaced by `bytes`, in a models folder of its own. */
async function tinyRgbWith(bytes: Uint8Array): Promise<string> {
  const dir = await tempDir('onnx-errors-models');
  await cp(join(await fixtureModels(['tiny-rgb']), 'tiny-rgb'), join(dir, 'tiny-rgb'), { recursive: true });
  await writeFile(join(dir, 'tiny-rgb', 'model.onnx'), bytes);
  return dir;
}

describe('ONNX Runtime errors', () => {
  test('an empty model.onnx: not a valid ONNX model, the file is empty, and ONNX Runtime\'s reason', async () => {
    const { path, message } = await openError(new Uint8Array(0));
    assert.equal(message, `${path} is not a valid ONNX model (the file is empty): ModelProto does not have a graph.`);
  });

  test('bytes that are not ONNX: not a valid ONNX model, with ONNX Runtime\'s reason', async () => {
    const { path, message } = await openError(Buffer.from('this is not a protobuf message \u00ff\u00fe', 'latin1'));
    assert.equal(message, `${path} is not a valid ONNX model: Protobuf parsing failed.`);
  });

  test('a graph with an operator ONNX Runtime does not know names it', async () => {
    const g = new GraphBuilder();
    const [y] = g.node('NoSuchOp', [g.input('x', 'float32', [1, 3])]);
    g.output(y!, 'float32');
    const { path, message } = await openError(g.toBytes());
    assert.ok(message.startsWith(`${path} is not a valid ONNX model: `), message);
    assert.match(message, /No Op registered for NoSuchOp/);
  });

  test('a worker, `info` and `list` read the same message for a model folder whose model.onnx is empty', async () => {
    const modelsDir = await tinyRgbWith(new Uint8Array(0));
    const path = join(modelsDir, 'tiny-rgb', 'model.onnx');
    const expected = `model "tiny-rgb": ONNX Runtime cannot load it: ${path} is not a valid ONNX model (the file is empty): ModelProto does not have a graph.`;
    await assert.rejects(Classifier.load(await loadModelEntry(modelsDir, 'tiny-rgb'), { threads: 1, maxPixels: 1_000_000 }), (err: unknown) => {
      assert.equal((err as Error).message, expected);
      return true;
    });
    const info = spawnSync(process.execPath, [join(ROOT, 'model/dist/cli/models-cli.js'), 'info', 'tiny-rgb'], {
      cwd: ROOT,
      // Nothing listens on port 9 (discard): `info` reports the api as not running, at once.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MODELS_DIR: modelsDir, API_URL: 'http://127.0.0.1:9' },
      encoding: 'utf8',
    });
    assert.equal(info.status, 1, info.stderr);
    assert.match(info.stdout, new RegExp(`^loads: +NO: ${escapeRegExp(expected)}$`, 'm'));
    assert.equal(info.stderr, `error: model "tiny-rgb" does not load, so no worker serves it: ${expected}\n`);
  });

  // Only root can open a file as another user, and that user must be able to read the project (a clone
  // under /root is not readable by nobody); elsewhere the test has no such user to be.
  const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  const engine = join(ROOT, 'model/dist/engine/onnx-engine.js');
  const asNobody = process.getuid?.() === 0 && spawnSync('setpriv', [...NOBODY, process.execPath, '--input-type=module', '-e', `await import(${JSON.stringify(engine)})`], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } }).status === 0;
  test('a model.onnx the worker may not read: "cannot read it (permission denied)", not "not a valid ONNX model: system error number 13"', { skip: asNobody ? false : 'needs root, setpriv, and a project another user can read' }, async () => {
    const dir = await tempDir('onnx-unreadable');
    await chmod(dir, 0o755);
    const path = join(dir, 'model.onnx');
    await cp(join(await fixtureModels(['tiny-rgb']), 'tiny-rgb', 'model.onnx'), path);
    await chmod(path, 0o000);
    const script = `import { OnnxSession } from ${JSON.stringify(engine)};
      await OnnxSession.open(${JSON.stringify(path)}, { threads: 1 }).then(() => console.log('opened'), (e) => console.log(e.message));`;
    const run = spawnSync('setpriv', [...NOBODY, process.execPath, '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    assert.equal(run.stdout.trim(), `cannot read ${path} (permission denied: give the worker's user read access)`, run.stderr);
  });
});

describe('a run ONNX Runtime fails', () => {
  test('is one error without C++ locations, and ONNX Runtime writes nothing to stderr', async () => {
    // A Reshape to 5×7 of a 2×3 input loads fine and fails when it runs.
    const g = new GraphBuilder();
    const y = g.op('Reshape', [g.input('x', 'float32', ['n', 3]), g.initializer('shape', [2], new BigInt64Array([5n, 7n]), 'int64')]);
    g.output(y, 'float32');
    const path = join(await tempDir('onnx-errors'), 'model.onnx');
    await writeFile(path, g.toBytes());
    // ONNX Runtime's logger writes to the process's stderr from C++, so the run happens in a child process.
    const script = [
      `import { OnnxSession } from ${JSON.stringify(new URL('./onnx-engine.ts', import.meta.url).href)};`,
      `const s = await OnnxSession.open(${JSON.stringify(path)}, { threads: 1 });`,
      `await s.run('x', { dtype: 'float32', data: new Float32Array(6), dims: [2, 3] }, ${JSON.stringify(y)})`,
      `  .then(() => console.log('ran'), (e) => console.log(e.name + ': ' + e.message));`,
    ].join('\n');
    const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^OnnxModelError: Non-zero status code returned while running Reshape node\. .*cannot be reshaped to the requested shape/);
    assert.doesNotMatch(run.stdout, SOURCE_LOCATION);
  });
});

describe('withoutSourceLocations', () => {
  test('cuts the file, line and C++ signature ONNX Runtime puts before a reason', () => {
    assert.equal(
      withoutSourceLocations(
        '/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, ' +
          'const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) ModelProto does not have a graph.',
      ),
      'ModelProto does not have a graph.',
    );
    assert.equal(
      withoutSourceLocations(
        "Non-zero status code returned while running Conv node. Name:'c' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/nn/conv.cc:42 " +
          'onnxruntime::common::Status onnxruntime::Conv<T>::Compute(onnxruntime::OpKernelContext*) const [with T = float] X num_dims does not match W num_dims.',
      ),
      "Non-zero status code returned while running Conv node. Name:'c' Status Message: X num_dims does not match W num_dims.",
    );
  });

  test('leaves a reason without a source location as it is', () => {
    for (const reason of ['Protobuf parsing failed.', 'Got invalid dimensions for input: x for the following indices (index: 2 Got: 64 Expected: 32)']) {
      assert.equal(withoutSourceLocations(reason), reason);
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
