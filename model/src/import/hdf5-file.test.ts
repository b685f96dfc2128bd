/**
 * The HDF5 thread behind every Keras import: a read the library does not finish by its deadline is
 * abandoned and reported as damage, a failed read does not leave the library to the next file, and
 * dataset values arrive whole. Real h5wasm on the fixtures and on a damaged copy made here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hdf5DamageError, Hdf5File } from './hdf5-file.ts';
import { readZipEntries } from './zip-archive.ts';

const FIXTURES = fileURLToPath(new URL('../../../tests/fixtures/keras/', import.meta.url));

describe('HDF5 thread', () => {
  let dir: string;
  let weights: string;
  let slow: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hdf5-file-test-'));
    const h5 = (await readZipEntries(join(FIXTURES, 'tiny_resnet.keras'), ['model.weights.h5'])).get('model.weights.h5')!;
    weights = join(dir, 'model.weights.h5');
    await writeFile(weights, h5);
    // Found by scripts/fuzz-keras-import.ts's approach: with these 8 bytes the name attribute of the
    // root's "vars" group takes the library 9–11 s to fail on some VMs, 1.0–1.2 s on others, its memory
    // grown to its 2 GB limit.
    const damaged = Buffer.from(h5);
    Buffer.from([203, 242, 211, 116, 116, 80, 11, 180]).copy(damaged, 1912);
    slow = join(dir, 'slow.h5');
    await writeFile(slow, damaged);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('reads attributes, group members and whole datasets', async () => {
    const h5 = await Hdf5File.open(weights);
    try {
      assert.ok(h5.isGroup('layers'));
      assert.ok(h5.keys('layers').includes('conv2d'));
      assert.equal(h5.attr('vars', 'name'), 'tiny_resnet');
      const kernel = h5.readFloats('layers/conv2d/vars/0');
      assert.equal(kernel.values.length, kernel.shape.reduce((a, b) => a * b, 1));
      assert.ok(kernel.values.some((v) => v !== 0));
    } finally {
      h5.close();
    }
  });

  test('a read past its deadline is abandoned and reported as damage; the next file reads on a new thread', async () => {
    // Short enough that the library cannot fail first (growing its memory to 2 GB takes longer on any
    // machine): at 1.5 s, a VM where it failed in 1.0–1.2 s answered with its own error.
    const h5 = await Hdf5File.open(slow, { callDeadlineMs: 100 });
    const t0 = performance.now();
    assert.throws(
      () => h5.attr('vars', 'name'),
      (err: unknown) => {
        assert.ok(err instanceof Hdf5DamageError, String(err));
        assert.equal(err.reason, 'the library was still reading attribute "name" of "vars" after 0.1 s; the read was abandoned');
        return true;
      },
    );
    // The deadline, not the library's own failure, ended the wait.
    assert.ok(performance.now() - t0 < 900, `${performance.now() - t0} ms`);
    h5.close();
    const next = await Hdf5File.open(weights);
    try {
      assert.equal(next.attr('vars', 'name'), 'tiny_resnet');
    } finally {
      next.close();
    }
  });
});
