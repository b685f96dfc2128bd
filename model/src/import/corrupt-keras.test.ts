/**
 * Damaged Keras files given to `models import`: the user reads one line naming the file and what to do,
 * not the HDF5 C library's error stack, and the HDF5 runtime stays usable for the next file. Each
 * damaged file is made here from a good fixture (tests/fixtures/keras) in a temporary folder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withWeightsCrcMatching, weightsEntry } from '../../../tests/helpers/keras-archive.ts';
import { KerasFileError } from './keras-file.ts';
import { importModel } from './model-import.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(REPO_ROOT, 'tests/fixtures/keras');
/** The command as it ships: compiled by `npm run build` (the test runner builds first). */
const CLI = join(REPO_ROOT, 'model/dist/cli/models-cli.js');
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Bytes that look random but are the same on every run. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s >>> 16;
  }
  return out;
}

/** One damaged file per way a Keras file gets damaged, and the HDF5 reason each must report. */
const DAMAGED: { file: string; how: string; reason: RegExp; make: () => Promise<Buffer> }[] = [
  {
    file: 'cut-short.h5',
    how: 'a legacy .h5 cut short (an interrupted download)',
    reason: /truncated file: eof = 3000/,
    make: async () => (await readFile(join(FIXTURES, 'tiny_resnet.h5'))).subarray(0, 3000),
  },
  {
    file: 'noise.keras',
    how: 'random bytes behind an HDF5 signature, named .keras',
    reason: /bad superblock version number/,
    make: async () => Buffer.concat([HDF5_SIGNATURE, pseudoRandomBytes(4000, 42)]),
  },
  {
    // The superblock is fine, so the file opens; reading model_config (a variable-length string in
    // the global heap) fails. h5wasm used to abort its WebAssembly runtime there.
    file: 'damaged-heap.h5',
    how: 'a legacy .h5 whose global heap is damaged',
    reason: /global heap/,
    make: async () => {
      const b = Buffer.from(await readFile(join(FIXTURES, 'tiny_resnet.h5')));
      b.fill(0, b.indexOf('GCOL'), b.indexOf('GCOL') + 4);
      return b;
    },
  },
  {
    // 8 bytes inside a group's symbol table turn a weight's name to garbage (found by
    // scripts/fuzz-keras-import.ts): it used to read `"…" is not a dataset`, without what to do.
    file: 'garbled-name.h5',
    how: 'a legacy .h5 whose index names a weight that is not there',
    reason: /"model_weights\/b1_0_bn\/b1_0_bn\/moving_m.*" is not a dataset/,
    make: async () => {
      const b = Buffer.from(await readFile(join(FIXTURES, 'tiny_resnet.h5')));
      Buffer.from([122, 27, 174, 60, 195, 253, 199, 95]).copy(b, 21120);
      return b;
    },
  },
  {
    // 64 bytes inside the weights' chunk index make HDF5 ask for a 2.4 GB buffer. The WebAssembly
    // runtime used to print its own "Cannot enlarge memory" line to stderr before ours.
    file: 'huge-chunk.keras',
    how: 'a .keras archive whose weights claim a chunk larger than the HDF5 runtime may grow to',
    reason: /memory allocation failed/,
    make: async () => {
      const b = Buffer.from(await readFile(join(FIXTURES, 'tiny_resnet.keras')));
      pseudoRandomBytes(266 * 64, 7).copy(b, 42400, 265 * 64);
      return withWeightsCrcMatching(b);
    },
  },
  {
    // The weights are stored uncompressed in the archive: the zip stays readable (its CRC-32 made to
    // match), its HDF5 does not.
    file: 'damaged-weights.keras',
    how: 'a .keras archive whose model.weights.h5 is damaged',
    reason: /bad superblock version number/,
    make: async () => {
      const b = Buffer.from(await readFile(join(FIXTURES, 'tiny_resnet.keras')));
      b[b.indexOf(HDF5_SIGNATURE) + HDF5_SIGNATURE.length] = 0xff; // the superblock version
      return withWeightsCrcMatching(b);
    },
  },
];

describe('models import: a damaged Keras file', () => {
  let dir: string;
  let modelsDir: string;
  /** `models import <file>` as users run it, which must fail (exit 1). */
  const importFails = (file: string) => {
    const run = spawnSync(process.execPath, [CLI, 'import', file, '--preprocess', 'none'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MODELS_DIR: modelsDir },
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stderr);
    return run;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corrupt-keras-test-'));
    modelsDir = join(dir, 'models');
    for (const d of DAMAGED) await writeFile(join(dir, d.file), await d.make());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const d of DAMAGED) {
    test(`${d.how}: the command prints one line saying so, without HDF5's error stack`, () => {
      const file = join(dir, d.file);
      const run = importFails(file);
      assert.doesNotMatch(run.stderr, /HDF5-DIAG|Aborted/);
      const lines = run.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, run.stderr);
      assert.ok(lines[0]!.startsWith(`error: ${file} is not a readable Keras file: its HDF5 data is truncated or corrupt (`), lines[0]);
      assert.match(lines[0]!, d.reason);
      assert.match(lines[0]!, /Download, copy or save it again$/);
    });
  }

  test('in one process, each is a KerasFileError, and a good file still imports afterwards', async () => {
    for (const d of DAMAGED) {
      const file = join(dir, d.file);
      await assert.rejects(importModel(file, modelsDir, { preprocess: 'none' }), (err: unknown) => {
        assert.ok(err instanceof KerasFileError, `${d.file}: ${String(err)}`);
        assert.match(err.message, d.reason);
        assert.doesNotMatch(err.message, /HDF5-DIAG|\.c line \d+/);
        return true;
      });
    }
    const folder = await importModel(join(FIXTURES, 'tiny_mobilenet.keras'), modelsDir, { name: 'after-damage' });
    assert.equal(folder, join(modelsDir, 'after-damage'));
  });

  test('a .keras archive with one weight value damaged fails its CRC-32 check, in one line (it used to import)', async () => {
    const b = Buffer.from(await readFile(join(FIXTURES, 'tiny_resnet.keras')));
    // The last bytes of the weights entry are float values: HDF5 itself keeps no checksum of them.
    const { end } = weightsEntry(b);
    b[end - 100] = b[end - 100]! ^ 0x40;
    const file = join(dir, 'flipped-weight.keras');
    await writeFile(file, b);
    const run = importFails(file);
    const lines = run.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0]!,
      new RegExp(`^error: ${escapeRegExp(file)} is a damaged zip archive: model\\.weights\\.h5 fails its CRC-32 check \\(recorded 0x[0-9a-f]{8}, its bytes give 0x[0-9a-f]{8}\\)\\. Download, copy or save it again$`),
    );
  });

  test('a truncated .keras archive says so in one line, with what to do, and installs under no name', async () => {
    const file = join(dir, 'My Model (v2).keras');
    await writeFile(file, (await readFile(join(FIXTURES, 'tiny_resnet.keras'))).subarray(0, 40_000));
    const run = importFails(file);
    const lines = run.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, new RegExp(`^error: ${escapeRegExp(file)} is a damaged zip archive: it is truncated or corrupt \\(.+\\)\\. Download, copy or save it again$`));
  });

  test('a damaged --weights file of keras:resnet50 says so the same way', async () => {
    await assert.rejects(
      importModel('keras:resnet50', modelsDir, { weights: join(dir, 'cut-short.h5') }),
      /cut-short\.h5 is not a readable Keras weights file: its HDF5 data is truncated or corrupt \(truncated file: eof = 3000/,
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
