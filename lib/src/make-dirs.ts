/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir reports ENOENT for a folder on a read-only
 * disk (the reason an operator needs is EROFS), and on a path under /proc it never returns: it keeps
 * making the parent, which exists, and trying again (`models generate` with MODELS_DIR=/proc/x spun a
 * core until killed). Here each level is tried at most twice.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function makeDirs(dir: string): Promise<void> {
  const made = await mkdir(dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && dirname(dir) !== dir) return false;
      if (err.code === 'EEXIST') return assertDir(dir, err);
      throw err;
    },
  );
  if (made) return;
  await makeDirs(dirname(dir));
  await mkdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? assertDir(dir, err) : Promise.reject(err)));
}

/** A path that exists: fine when it is a folder, else the EEXIST that says so. */
async function assertDir(dir: string, exists: Error): Promise<true> {
  if ((await stat(dir)).isDirectory()) return true;
  throw exists;
}
