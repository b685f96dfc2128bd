/**
 * The `models` command. The behaviours users rely on (exit codes, no stack traces, list/info/remove/pull)
 * run it as users do: a child process with its own MODELS_DIR, talking to local HTTP servers (a fake api
 * and a fake zoo mirror) on 127.0.0.1 only. Argument handling and help run `main()` in-process, because
 * each child process costs a second or more of start-up.
 */
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installModel, loadModelEntry, modelBuild } from '../repository/model-repository.ts';
import { CATALOG, findCatalogEntry } from '../pull/catalog.ts';
import { FakeMirror } from '../../test/fake-mirror.ts';
import { fixtureEntry, fixtureModelBytes, FIXTURE_LABELS } from '../../test/test-catalog.ts';
import { generateModel } from '../generate/generate.ts';
import { main } from './models-cli.ts';
import { mountTinyDisk, unmountTinyDisk } from '../../../tests/helpers/tiny-disk.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The command as it ships: compiled by `npm run build` (the test runner builds first). */
const CLI = join(REPO_ROOT, 'model/dist/cli/models-cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let modelsDir: string;
let mirror: FakeMirror;
let api: Server;
let apiUrl: string;
let deadApiUrl: string;
/** What the fake api answers at /v1/models; a test may change it, `beforeEach` restores it. */
let apiModels: unknown;
const API_MODELS = {
  default: 'alpha',
  models: [{ name: 'alpha', workers: 2 }, { name: 'beta', workers: 0 }],
  broken: [{ name: 'beta', reason: 'model "beta": ONNX Runtime cannot load it: protobuf parsing failed' }],
};

/** Runs the CLI asynchronously (the local servers live in this process and must keep answering). */
/** `interruptOn`: sends SIGINT (Ctrl-C) once stderr matches it. */
/** Runs the CLI as users do; one still running after `killAfterMs` is killed (code null), so a hang fails its test and leaves nothing spinning. */
function runCli(args: string[], env: Record<string, string> = {}, interruptOn?: RegExp, killAfterMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MODELS_DIR: modelsDir, API_URL: deadApiUrl, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (interruptOn && !interrupted && interruptOn.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `main` in this process with captured output. */
async function runMain(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { MODELS_DIR: modelsDir, API_URL: deadApiUrl, ...env }, new AbortController().signal, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t), isTTY: false },
  });
  return { code, stdout, stderr };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

async function installFixture(name: string): Promise<void> {
  const entry = fixtureEntry(name, fixtureModelBytes(2048));
  await installModel(modelsDir, { config: entry.config, labels: FIXTURE_LABELS.trim().split('\n'), onnx: fixtureModelBytes(2048) });
}

function assertNoStack(run: Run): void {
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace without DEBUG=1');
}

before(async () => {
  mirror = await FakeMirror.start();
  api = createServer((req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(apiModels));
    } else res.writeHead(404).end();
  });
  apiUrl = await listen(api);
  // A port that was just free: connecting to it is refused, like an api that is not running.
  const dead = createServer();
  deadApiUrl = await listen(dead);
  await new Promise<void>((resolve) => dead.close(() => resolve()));
});
after(async () => {
  await mirror.close();
  api.closeAllConnections();
  await new Promise<void>((resolve) => api.close(() => resolve()));
});
beforeEach(async () => {
  apiModels = API_MODELS;
  modelsDir = await mkdtemp(join(tmpdir(), 'models-cli-test-'));
});
afterEach(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

describe('models command, spawned', () => {
  test('list on an empty models folder says so and how to get a model', async () => {
    const run = await runCli(['list']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^no models in .*models-cli-test-/);
    assert.match(run.stdout, /pull mobilenetv2-12-int8/);
  });

  test('list shows models with input, classes and what the api serves, then broken folders and models workers could not load', async () => {
    await installFixture('alpha');
    await installFixture('beta');
    await mkdir(join(modelsDir, 'half-copied'));
    await writeFile(join(modelsDir, 'half-copied', 'config.json'), '{"name": "half-copied"');

    const run = await runCli(['list'], { API_URL: apiUrl });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0]!, /^NAME\s+SOURCE\s+SIZE\s+INPUT\s+CLASSES\s+LOADED$/);
    assert.match(lines[1]!, /^alpha\s+zoo\.invalid\s+2\.00 KiB\s+NCHW float32 32×32 RGB\s+3\s+yes \(2 workers, default\)$/);
    assert.match(lines[2]!, /^beta\s+.*\s+FAILED on a worker$/);
    assert.match(run.stdout, /broken folders in .*:\n {2}half-copied: .*config\.json is not valid JSON/);
    assert.match(run.stdout, /models the running workers could not load \(not served by them\):\n {2}beta: model "beta": ONNX Runtime cannot load it: .*Protobuf parsing failed/);

    const offline = await runMain(['list']);
    assert.match(offline.stdout, /^alpha\s+.*\? \(api not running\)$/m);
  });

  test('list and info say when the workers loaded files that were replaced in the folder since', async () => {
    await installFixture('alpha');
    await generateModel('tiny-rgb', modelsDir, { name: 'gamma' });
    const current = await modelBuild(await loadModelEntry(modelsDir, 'alpha'));
    // alpha's workers hold its files as they are; gamma's loaded files replaced since (another build), and
    // during a rolling restart one of delta's two workers holds the new files, the other the old.
    await generateModel('tiny-rgb', modelsDir, { name: 'delta' });
    const delta = await modelBuild(await loadModelEntry(modelsDir, 'delta'));
    apiModels = {
      default: 'alpha',
      models: [
        { name: 'alpha', workers: 2, versions: [current] },
        { name: 'delta', workers: 2, versions: [delta, '1+000000000000'] },
        { name: 'gamma', workers: 1, versions: ['1+000000000000'] },
      ],
      broken: [],
    };

    const run = await runCli(['list'], { API_URL: apiUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^alpha\s+.*\s+yes \(2 workers, default\)$/m);
    assert.match(run.stdout, /^delta\s+.*\s+yes \(2 workers\), some from the files this folder held before: restart the workers to serve the new ones$/m);
    assert.match(run.stdout, /^gamma\s+.*\s+yes \(1 worker\), from the files this folder held before: restart the workers to serve the new ones$/m);

    const info = await runCli(['info', 'gamma'], { API_URL: apiUrl });
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^loaded: +yes \(1 worker\), from the files this folder held before/m);
    const fresh = await runCli(['info', 'alpha'], { API_URL: apiUrl });
    assert.match(fresh.stdout, /^loaded: +yes \(2 workers, default\)$/m);
  });

  test('list names each broken folder once, and says what a folder the workers failed on holds now', async () => {
    await installFixture('alpha');
    await mkdir(join(modelsDir, 'half-copied'));
    await writeFile(join(modelsDir, 'half-copied', 'config.json'), '{"name": "half-copied"');
    await generateModel('tiny-rgb', modelsDir, { name: 'fixed' });
    const stale = (name: string): { name: string; reason: string } => ({ name, reason: `${modelsDir}/${name}/config.json is not valid JSON: stale` });
    // Workers started while all three folders were broken; since then one was fixed and one removed.
    apiModels = { default: 'alpha', models: [{ name: 'alpha', workers: 1 }], broken: ['half-copied', 'fixed', 'gone'].map(stale) };

    const run = await runCli(['list'], { API_URL: apiUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^fixed\s+.*\s+FAILED on a worker$/m);
    assert.equal(run.stdout.match(/^ {2}half-copied: /gm)?.length, 1, run.stdout);
    assert.match(run.stdout, /broken folders in .*:\n {2}half-copied: .*config\.json is not valid JSON: Expected/);
    assert.match(run.stdout, /^ {2}fixed: its folder now holds a model that loads: restart the workers to load it$/m);
    assert.match(run.stdout, /^ {2}gone: no folder \S+\/gone now \(what the workers found at start: .*stale\)$/m);
    assert.equal(run.stdout.match(/stale/g)?.length, 1, 'only the removed folder quotes the workers\' reason');
  });

  test('list says when a broken folder is still served from what the workers loaded before it broke', async () => {
    await mkdir(join(modelsDir, 'half-copied'));
    await writeFile(join(modelsDir, 'half-copied', 'config.json'), '{"name": "half-copied"');
    await mkdir(join(modelsDir, 'never-loaded'));
    await writeFile(join(modelsDir, 'never-loaded', 'config.json'), '{"name": "never-loaded"');
    apiModels = { default: 'half-copied', models: [{ name: 'half-copied', workers: 2 }], broken: [] };

    const run = await runCli(['list'], { API_URL: apiUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^broken folders in .* \(workers skip them when they start\):$/m);
    assert.match(run.stdout, /^ {2}half-copied: .*config\.json is not valid JSON.* \(still served by 2 workers from what they loaded at start: restarting them takes it down\)$/m);
    const neverLoaded = run.stdout.split('\n').find((l) => l.startsWith('  never-loaded: '));
    assert.match(neverLoaded ?? '', /config\.json is not valid JSON/);
    assert.doesNotMatch(neverLoaded ?? '', /still served/, 'no worker holds it');
  });

  test('list names a model the workers serve whose folder is gone (removed since they loaded it): it was left out, as if not served', async () => {
    await installFixture('alpha');
    apiModels = { default: 'alpha', models: [{ name: 'alpha', workers: 1 }, { name: 'removed-one', workers: 2 }], broken: [] };
    const run = await runCli(['list'], { API_URL: apiUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^models the running workers serve that have no folder in .*:\n {2}removed-one: served by 2 workers \(removed since they loaded it: restarting them takes it down; or from another host's MODELS_DIR\)$/m);
    assert.doesNotMatch(run.stdout, /^ {2}alpha: /m);
  });

  test('Ctrl-C during pull: exit 130 and the same line as generate (it said "the partial file was removed" when no byte had come)', async () => {
    const silent = createServer(() => undefined); // takes the request, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const mirror = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/zoo`;
      const run = await runCli(['pull', 'squeezenet1.1-7'], { MODELS_MIRROR_URL: mirror }, /^pulling /m);
      assert.equal(run.code, 130, run.stderr);
      assert.match(run.stderr, /\nerror: cancelled with Ctrl-C: nothing was installed\n$/);
      assert.deepEqual(await readdir(modelsDir), [], 'nothing installed, nothing left behind');
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('Ctrl-C during generate stops it before anything is installed: exit 130, one line, models/ as it was', async () => {
    const run = await runCli(['generate', 'resnet50-random', '--name', 'cancelled'], {}, /stage 1\/4 done/);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /\nerror: cancelled with Ctrl-C: nothing was installed\n$/);
    assert.doesNotMatch(run.stdout, /installed/);
    assert.deepEqual(await readdir(modelsDir).catch(() => []), []);
  });

  test('info of a missing model: exit 1 and one clear line', async () => {
    const run = await runCli(['info', 'ghost']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: model "ghost" not found: no .*ghost\/config\.json \(`list` shows the installed models\)\n$/);
    assertNoStack(run);
  });

  test('remove deletes the folder; removing it again is an error', async () => {
    await installFixture('alpha');
    const run = await runCli(['remove', 'alpha']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^removed alpha from /);
    assert.deepEqual(await readdir(modelsDir), []);

    const again = await runMain(['remove', 'alpha']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: model "alpha" not found in /);
  });

  test('folders no model can be (lost+found, Backup) without config.json are not listed as broken models; remove says what a folder without config.json is', async () => {
    await installFixture('alpha');
    for (const folder of ['lost+found', 'Backup', 'half-copied']) await mkdir(join(modelsDir, folder));
    const run = await runMain(['list']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /lost\+found|Backup/);
    assert.match(run.stdout, /half-copied/, 'a folder with a model\'s name and no config.json is still a broken model');
    const removed = await runMain(['remove', 'half-copied']);
    assert.equal(removed.code, 1);
    assert.match(removed.stderr, /^error: .*half-copied has no config\.json: it is not a model folder, so it is not removed; remove it by hand/);
  });

  test('a MODELS_MIRROR_URL that is no http(s) address, or an empty MODELS_DIR, is a usage error at once (exit 2)', async () => {
    const mirror = await runMain(['pull', 'squeezenet1.1-7'], { MODELS_MIRROR_URL: 'notaurl' });
    assert.equal(mirror.code, 2, mirror.stderr);
    assert.match(mirror.stderr, /^error: MODELS_MIRROR_URL must be an http:\/\/ or https:\/\/ address, got "notaurl"/);
    const catalog = await runMain(['catalog'], { MODELS_MIRROR_URL: 'ftp://x' });
    assert.equal(catalog.code, 2);
    assert.equal(catalog.stdout, '', 'refused before the table, not below it');
    const empty = await runMain(['list'], { MODELS_DIR: ' ' });
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /^error: MODELS_DIR is set but empty/);
  });

  test('import names a missing --labels or --weights file at once, before converting anything', async () => {
    const keras = join(REPO_ROOT, 'tests/fixtures/keras/tiny_mobilenet.keras');
    const run = await runMain(['import', keras, '--labels', join(modelsDir, 'no-labels.txt')]);
    assert.equal(run.code, 2, run.stderr);
    // Its first line: nothing was read or converted before.
    assert.match(run.stderr, /^error: --labels \S+no-labels\.txt: cannot read it \(ENOENT\)\n/);
    assert.deepEqual(await readdir(modelsDir), []);
    const folder = await runMain(['import', 'keras:resnet50', '--weights', modelsDir]);
    assert.match(folder.stderr, /^error: --weights \S+: cannot read it \(not a file\)$/m);
  });

  test('an unknown verb exits 2 with the usage', async () => {
    const run = await runCli(['frobnicate']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: unknown command "frobnicate"/);
    assert.match(run.stderr, /Commands:\n {2}list/);
    assertNoStack(run);
  });

  test('pull through MODELS_MIRROR_URL installs a model, resuming a dropped connection', async () => {
    const bytes = fixtureModelBytes();
    const entry = fixtureEntry('mirrored', bytes);
    mirror.serve('mirrored/model.onnx', bytes, 'drop-half-once');
    mirror.serve('mirrored/labels.txt', FIXTURE_LABELS);
    const catalogFile = `${modelsDir}-catalog.json`;
    await writeFile(catalogFile, JSON.stringify([entry]));
    try {
      const run = await runCli(['pull', 'mirrored'], { MODELS_MIRROR_URL: mirror.baseUrl, MODELS_CATALOG_FILE: catalogFile });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^installed mirrored in .*mirrored \(size and sha256 [0-9a-f]{12}… verified\)$/m);
      assert.match(run.stderr, /mirrored model : done 100% .*attempt 2/);
      assert.deepEqual(await readdir(modelsDir), ['mirrored']);

      const again = await runMain(['pull', 'mirrored'], { MODELS_MIRROR_URL: mirror.baseUrl, MODELS_CATALOG_FILE: catalogFile });
      assert.equal(again.code, 0);
      assert.match(again.stdout, /already installed .*--force/);

      await rm(join(modelsDir, 'mirrored', 'labels.txt'));
      const repair = await runMain(['pull', 'mirrored'], { MODELS_MIRROR_URL: mirror.baseUrl, MODELS_CATALOG_FILE: catalogFile });
      assert.equal(repair.code, 0, repair.stderr);
      assert.match(repair.stderr, /^replacing the broken folder .*labels file .* is missing\)$/m);
      assert.match(repair.stdout, /^installed mirrored/m);
    } finally {
      await rm(catalogFile, { force: true });
    }
  });

  test('pull of a real catalog entry from a mirror with wrong bytes fails clearly and installs nothing', async () => {
    const entry = findCatalogEntry(CATALOG, 'mobilenetv2-12-int8');
    mirror.serve(entry.model.mirrorPath!, fixtureModelBytes(entry.model.sizeBytes));
    mirror.serve(entry.labels.mirrorPath!, fixtureModelBytes(entry.labels.sizeBytes));

    const run = await runCli(['pull', 'mobilenetv2-12-int8'], { MODELS_MIRROR_URL: mirror.baseUrl });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: sha256 mismatch for http:\/\/127\.0\.0\.1:\d+\/validated\/vision\/classification\/synset\.txt: expected acf75ef0/m);
    assertNoStack(run);
    assert.deepEqual(await readdir(modelsDir), []);
  });

  test('a read-only MODELS_DIR, or one under a read-only folder: exit 1, one line saying so (it gave the raw EROFS of a temporary folder, or ENOENT)', async (t) => {
    const cannot = mountTinyDisk(modelsDir, '1m', true);
    if (cannot) return t.skip(cannot);
    try {
      const run = await runCli(['generate', 'tiny-rgb']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: EROFS: .*\(MODELS_DIR \S+ is on a read-only file system: set MODELS_DIR to a folder you can write\)$/m);
      assertNoStack(run);
      const below = await runCli(['generate', 'tiny-rgb'], { MODELS_DIR: join(modelsDir, 'models') });
      assert.equal(below.code, 1);
      assert.match(below.stderr, /^error: .*\(MODELS_DIR \S+\/models (is on a read-only file system|could not be created: check that the folder above it exists and can be written)/m);
    } finally {
      unmountTinyDisk(modelsDir);
    }
  });

  test('MODELS_DIR under /proc: exit 1, one line (Node\'s recursive mkdir never returned there: the command spun a core until killed)', { timeout: 20_000 }, async () => {
    const run = await runCli(['generate', 'tiny-rgb'], { MODELS_DIR: '/proc/icls-models' }, undefined, 10_000);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: ENOENT: .*\(MODELS_DIR \/proc\/icls-models could not be created: check that the folder above it exists and can be written\)$/m);
    assertNoStack(run);
  });

  test('MODELS_DIR inside a file: exit 1, one line saying part of it is a file', async () => {
    const file = join(modelsDir, 'a-file');
    await writeFile(file, '');
    const run = await runCli(['generate', 'tiny-rgb'], { MODELS_DIR: join(file, 'models') });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: ENOTDIR: .*\(part of MODELS_DIR \S+ is not a folder: a file, or a link to nothing; fix MODELS_DIR\)$/m);
    await rm(file);
  });

  test('a full disk: exit 1, one line naming MODELS_DIR and what to do, and nothing installed', async (t) => {
    const cannot = mountTinyDisk(modelsDir);
    if (cannot) return t.skip(cannot);
    try {
      const run = await runCli(['generate', 'mobilenetv2-random']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: ENOSPC: no space left on device, write \(the disk of MODELS_DIR \S+ has no room left: free some, or set MODELS_DIR to a folder on a larger disk\)$/m);
      assertNoStack(run);
      assert.deepEqual(await readdir(modelsDir), []);
    } finally {
      unmountTinyDisk(modelsDir);
    }
  });
});

describe('models command, in-process', () => {
  test('info shows the config, labels and the file sha256, and fails when ONNX Runtime cannot load the file', async () => {
    await installFixture('alpha'); // its model.onnx is random bytes
    const run = await runMain(['info', 'alpha'], { API_URL: apiUrl });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^loads: +NO: model "alpha": ONNX Runtime cannot load /m);
    assert.match(run.stderr, /^error: model "alpha" does not load, so no worker serves it/);
    assert.match(run.stdout, /^sha256: +[0-9a-f]{64} \(no sha256 recorded in provenance\)$/m);
    assert.match(run.stdout, /^labels: +labels\.txt: 3 classes shown as keras: red_thing, green_thing, blue_thing$/m);
    assert.match(run.stdout, /^loaded: +yes \(2 workers, default\)$/m);
    assert.match(run.stdout, /"name": "alpha"/);
  });

  test('info says a real model loads, and exits 0', async () => {
    await generateModel('tiny-rgb', modelsDir);
    const run = await runMain(['info', 'tiny-rgb']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^loads: +yes: ONNX Runtime opened it/m);
  });

  test('a name that is not a folder name is a usage error, so nothing outside MODELS_DIR is touched', async () => {
    const run = await runMain(['remove', '../etc']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: "\.\.\/etc" is not a model name/);
    assert.match(run.stderr, /Usage: npm run models -- remove <name>/);
  });

  test('info refuses a name that is not a folder name, even when it leads to a model outside MODELS_DIR', async () => {
    // A real model beside MODELS_DIR: without the check, `info ../<it>` would print its config.
    const outside = `${modelsDir}-outside`;
    const entry = fixtureEntry('secret', fixtureModelBytes(2048));
    await installModel(outside, { config: entry.config, labels: FIXTURE_LABELS.trim().split('\n'), onnx: fixtureModelBytes(2048) });
    try {
      const name = `../${basename(outside)}/secret`;
      const run = await runMain(['info', name]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.split('\n')[0], `error: "${name}" is not a model name (lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters)`);
      assert.match(run.stderr, /Usage: npm run models -- info <name>/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  test('no verb exits 2; --help exits 0 with the usage on stdout', async () => {
    assert.equal((await runMain([])).code, 2);
    const help = await runMain(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: npm run models -- <command>/);
    const verbHelp = await runMain(['pull', '--help']);
    assert.equal(verbHelp.code, 0);
    assert.match(verbHelp.stdout, /^Usage: npm run models -- pull <name> \[--force\]/);
  });

  test('a missing argument or an unknown option exits 2', async () => {
    const missing = await runMain(['info']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: info needs a model name/);
    const unknown = await runMain(['list', '--colour']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown option --colour\n/);
  });

  test('catalog and pull --list show the built-in entries', async () => {
    for (const args of [['catalog'], ['pull', '--list']]) {
      const run = await runMain(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^mobilenetv2-12-int8\s+3\.49 MiB\s+NCHW float32 224×224 RGB\s+1000\s+Apache-2\.0\s+cc028fe6cae7\s+no\s/m);
      assert.match(run.stdout, /^efficientnet-lite4-11\s+49\.5 MiB\s+NHWC float32 224×224 RGB\s+1000\s+MIT\s/m);
      assert.match(run.stdout, /^source: the ONNX Model Zoo \(github\.com\/onnx\/models\); install one/m);
    }
  });

  test('catalog names where extra entries come from, and the mirror when there is one', async () => {
    const catalogFile = `${modelsDir}-extra-catalog.json`;
    await writeFile(catalogFile, JSON.stringify([fixtureEntry('extra', fixtureModelBytes())]));
    try {
      const run = await runMain(['catalog'], { MODELS_CATALOG_FILE: catalogFile });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^extra\s/m);
      assert.ok(run.stdout.includes(`source: each entry's own URL (the built-in ones: the ONNX Model Zoo (github.com/onnx/models); the others from MODELS_CATALOG_FILE ${catalogFile}); install one`), run.stdout);
      const mirrored = await runMain(['catalog'], { MODELS_CATALOG_FILE: catalogFile, MODELS_MIRROR_URL: 'http://127.0.0.1:9/zoo' });
      assert.match(mirrored.stdout, /^source: the mirror http:\/\/127\.0\.0\.1:9\/zoo; install one/m);
    } finally {
      await rm(catalogFile, { force: true });
    }
  });

  test('pull of a name not in the catalog lists the names, with the usage, as a wrong command line (exit 2, as generate of an unknown kind)', async () => {
    const run = await runMain(['pull', 'resnet9000']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: "resnet9000" is not in the catalog; available: mobilenetv2-12-int8, squeezenet1\.1-7, /);
    assert.match(run.stderr, /Usage: npm run models -- pull /);
  });

  test('generate --name: every progress line names the folder given, not the kind', async () => {
    const run = await runMain(['generate', 'tiny-rgb', '--name', 'my-gen']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `installed ${join(modelsDir, 'my-gen')}\nrestart the model workers (or \`npm start\`) to serve it\n`);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'my-gen: building tiny-rgb graph');
    for (const line of lines) assert.match(line, /^my-gen: /);
  });

  test('import of an ONNX file or folder points to the by-hand install (it said "neither a Keras archive nor an HDF5 file")', async () => {
    for (const source of ['somewhere/model.onnx', join(modelsDir, 'alpha')]) {
      if (!source.endsWith('.onnx')) await installFixture('alpha');
      const run = await runMain(['import', source]);
      assert.equal(run.code, 2, run.stderr);
      if (source.endsWith('.onnx')) assert.match(run.stderr, /is an ONNX model: it needs no import\. Install it by hand \(README, "Bring your own model"\)/);
      else assert.match(run.stderr, /is the installed model "alpha" \(a folder of MODELS_DIR\): it needs no import; `npm run models -- info alpha` checks it/);
    }
  });

  test('generate and import refuse to replace an installed model without --force, before any work; with it they replace it', async () => {
    const folder = join(modelsDir, 'kept');
    assert.equal((await runMain(['generate', 'tiny-rgb', '--name', 'kept'])).code, 0);
    await writeFile(join(folder, 'notes.txt'), 'mine');
    for (const args of [['generate', 'tiny-slow', '--name', 'kept'], ['import', 'nowhere.keras', '--name', 'kept']]) {
      const run = await runMain(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^error: kept is already installed in ${folder}: use --force to replace it`));
      assert.equal(await readFile(join(folder, 'notes.txt'), 'utf8'), 'mine', 'nothing replaced');
    }
    // A bundled variant installs under its own name only, so the hint does not offer --name (refused for it).
    await mkdir(join(modelsDir, 'nsfw-mobilenetv2'), { recursive: true });
    await writeFile(join(modelsDir, 'nsfw-mobilenetv2', 'config.json'), '{}');
    const variant = await runMain(['import', 'mobilenetv2']);
    assert.equal(variant.code, 2, variant.stderr);
    assert.match(variant.stderr, /^error: nsfw-mobilenetv2 is already installed in .*: use --force to replace it \(its folder is replaced whole\)\n/);
    await rm(join(modelsDir, 'nsfw-mobilenetv2'), { recursive: true });
    const forced = await runMain(['generate', 'tiny-slow', '--name', 'kept', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    await assert.rejects(readFile(join(folder, 'notes.txt')), 'the folder was replaced whole');
  });

  test('import takes a relative path from the folder it was typed in (npm run passes it as INIT_CWD): from docs/, ../tests/… was looked for beside the project', async () => {
    const run = await runCli(['import', '../tests/fixtures/keras/tiny_mobilenet.keras', '--name', 'typed-in-docs'], { INIT_CWD: join(REPO_ROOT, 'docs') });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^installed \S+typed-in-docs$/m);
  });

  test('a name over 128 characters (the api looks up none longer), or a folder that is no model in its place, is refused before any work', async () => {
    const long = await runMain(['generate', 'tiny-rgb', '--name', 'a'.repeat(129)]);
    assert.equal(long.code, 2, long.stderr);
    assert.match(long.stderr, /^error: "a{129}" is not a model name \(lower-case letters, digits, "\.", "_" and "-", starting with a letter or digit, at most 128 characters\)$/m);
    const longest = await runMain(['generate', 'tiny-rgb', '--name', 'a'.repeat(128)]);
    assert.equal(longest.code, 0, longest.stderr);

    await mkdir(join(modelsDir, 'occupied'));
    await writeFile(join(modelsDir, 'occupied', 'notes.txt'), 'mine');
    const keras = join(REPO_ROOT, 'tests/fixtures/keras/tiny_mobilenet.keras');
    for (const force of [[], ['--force']]) {
      const run = await runMain(['import', keras, '--name', 'occupied', ...force]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^error: \S+occupied exists and is not a model folder \(no config\.json\)/m);
      assert.doesNotMatch(run.stderr, /converting|read tiny_mobilenet/, 'refused before reading the file');
    }
    assert.equal(await readFile(join(modelsDir, 'occupied', 'notes.txt'), 'utf8'), 'mine');
  });

  test('import of a Keras file installs a served model; mistakes exit 2 with the usage', async () => {
    const keras = join(REPO_ROOT, 'tests/fixtures/keras/tiny_mobilenet.keras');
    const run = await runMain(['import', keras, '--name', 'tiny']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `installed ${join(modelsDir, 'tiny')}\nrestart the model workers (or \`npm start\`) to serve it\n`);
    assert.match(run.stderr, /^tiny: converting 20 layers of "tiny_mobilenet"$/m);
    // A local file is read, not downloaded: one line saying so, no percentages, rates or "done".
    assert.match(run.stderr, /^tiny: read tiny_mobilenet\.keras \(74\.6 KiB\) in \d+\.\d s$/m);
    assert.doesNotMatch(run.stderr, /%|B\/s|done/);

    const missing = await runMain(['import', 'no-such-model.keras']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: no-such-model\.keras: no such file or folder \(nor an NSFWJS variant or keras:<architecture>\)/);
    const noWeights = await runMain(['import', 'keras:resnet50']);
    assert.equal(noWeights.code, 2);
    assert.match(noWeights.stderr, /keras:resnet50 needs --weights <file>, e.g. Keras' resnet50_weights_tf_dim_ordering_tf_kernels\.h5/);
    const badMode = await runMain(['import', keras, '--preprocess', 'vgg']);
    assert.equal(badMode.code, 2);
    assert.match(badMode.stderr, /--preprocess must be one of caffe, tf, torch, unit, none, got "vgg"/);
    assertNoStack(missing);
  });
});
