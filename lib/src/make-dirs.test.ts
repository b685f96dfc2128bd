/** `mkdir -p` that ends: real folders, a file in the way, and /proc, where Node's recursive mkdir never returns. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { makeDirs } from './make-dirs.ts';

const root = await mkdtemp(join(tmpdir(), 'icls-make-dirs-'));
after(() => rm(root, { recursive: true, force: true }));

it('makes every missing level, and is content with folders that exist', async () => {
  const deep = join(root, 'a', 'b', 'c');
  await makeDirs(deep);
  assert.ok((await stat(deep)).isDirectory());
  await makeDirs(deep);
  await makeDirs(root);
});

it('a file in the way is EEXIST, at its level or above', async () => {
  await writeFile(join(root, 'file'), '');
  await assert.rejects(makeDirs(join(root, 'file')), { code: 'EEXIST' });
  await assert.rejects(makeDirs(join(root, 'file', 'below')), { code: 'ENOTDIR' });
});

it('a folder under /proc is refused at once (Node\'s recursive mkdir spins there for ever)', { timeout: 5000 }, async () => {
  await assert.rejects(makeDirs('/proc/icls-no-such/models'), { code: 'ENOENT' });
});
