/** A failed write names its file in the log: the kernel's own ENOSPC from /dev/full. */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { it } from 'node:test';
import { isNoRoom, withPath } from './fs-errors.ts';

it('a write on a full device: the error names the file, once, and is still a full disk', async () => {
  const file = await open('/dev/full', 'w');
  const err = await file.write(Buffer.from('x')).then(
    () => assert.fail('written'),
    (e: NodeJS.ErrnoException) => e,
  );
  await file.close();
  assert.doesNotMatch(err.message, /\/dev\/full/, 'the system names no file');
  withPath(withPath(err, '/dev/full'), '/elsewhere');
  assert.equal(err.message, 'ENOSPC: no space left on device, write (/dev/full)');
  assert.equal(err.path, '/dev/full');
  assert.ok(isNoRoom(err));
});
