/**
 * The api's folders are checked once at start-up: created if missing, and a file written and removed
 * in each. A folder it cannot write (read-only, wrong owner, a mount that is not there) stops the
 * start with the variable's name and the system's reason, instead of a ready service answering every
 * upload or report with a 500.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, type Config } from '@icls/lib/config';

export async function assertWritableDirs(config: Pick<Config, 'UPLOAD_DIR' | 'FEEDBACK_DIR'>): Promise<void> {
  const failures: string[] = [];
  for (const name of ['UPLOAD_DIR', 'FEEDBACK_DIR'] as const) {
    const dir = config[name];
    const probe = join(dir, `.write-check-${randomBytes(6).toString('hex')}`);
    try {
      await makeDirs(dir);
      await writeFile(probe, '', { flag: 'wx' });
      await rm(probe);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failures.push(`  ${name} ${dir}: the api cannot write there (${e.message})`);
    }
  }
  if (failures.length) throw new ConfigError(`invalid configuration:\n${failures.join('\n')}`);
}

/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir reports ENOENT for a folder on a read-only
 * disk (the reason an operator needs is EROFS), and on a path under /proc it never returns: it keeps
 * making the parent, which exists, and trying again. Here each level is tried at most twice.
 */
async function makeDirs(dir: string): Promise<void> {
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
