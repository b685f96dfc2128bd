/**
 * A folder known not to be writable is looked at again by /readyz's probe only while it is known so, and
 * is seen mended without any upload or report coming (an api out of the load balancer gets none). The
 * EROFS is the kernel's own: a tmpfs remounted read-only (needs root; skipped elsewhere, saying why).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { isAppError } from '@icls/lib/errors';
import { createLogger } from '@icls/lib/logger';
import { tempDir } from '../../tests/helpers/fixtures.ts';
import { mountTinyDisk, unmountTinyDisk } from '../../tests/helpers/tiny-disk.ts';
import { WritableDir } from './writable-dirs.ts';

const mounted: string[] = [];
after(() => mounted.forEach(unmountTinyDisk));

const remount = (dir: string, mode: 'ro' | 'rw'): void => {
  const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
};

it('a healthy folder: /readyz writes nothing there; other failures pass through as they were', async () => {
  const dir = await tempDir('writable');
  const state = new WritableDir('UPLOAD_DIR', dir, createLogger('silent', 'test'), 10);
  assert.equal(await state.problem(), undefined);
  assert.deepEqual(await readdir(dir), [], 'no probe file was written');
  const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  assert.equal(state.refusal(full), full);
  assert.equal(await state.problem(), undefined);
});

it('a folder remounted read-only: refused, reported by problem(), and seen mended by the probe alone, logged once each way', async (t) => {
  const dir = await tempDir('readonly');
  const cannot = mountTinyDisk(dir);
  if (cannot) return t.skip(cannot);
  mounted.push(dir);
  const lines: { level: number; msg: string }[] = [];
  const state = new WritableDir('FEEDBACK_DIR', dir, createLogger('info', 'test', { write: (l: string) => void lines.push(JSON.parse(l)) }), 50);
  remount(dir, 'ro');
  for (let i = 0; i < 3; i++) {
    const err = await writeFile(join(dir, 'feedback'), 'x').then(() => assert.fail('written'), (e: unknown) => state.refusal(e));
    assert.ok(isAppError(err) && err.code === 'STORAGE_UNWRITABLE' && err.status === 503, String(err));
    assert.equal(err.message, 'The server cannot store this now: a folder it writes to cannot be written; its operator must fix it: FEEDBACK_DIR cannot be written (its file system is read-only)');
  }
  assert.equal(await state.problem(), 'FEEDBACK_DIR cannot be written (its file system is read-only)');
  await new Promise((r) => setTimeout(r, 60));
  assert.match((await state.problem()) ?? '', /cannot be written/, 'the probe failed too: still broken');

  remount(dir, 'rw');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(await state.problem(), undefined, 'the probe wrote there');
  assert.deepEqual(await readdir(dir), [], 'the probe file was removed');
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg.replace(dir, '<dir>')]),
    [
      [50, 'FEEDBACK_DIR <dir> cannot be written (EROFS: its file system is read-only): its writes are answered 503 STORAGE_UNWRITABLE until it can; remount it read-write, give the api\'s user write access, or point FEEDBACK_DIR at a writable folder'],
      [30, 'FEEDBACK_DIR <dir> can be written again'],
    ],
  );
});
