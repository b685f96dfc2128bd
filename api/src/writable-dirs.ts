/**
 * The api's folders are checked once at start-up: created if missing, and a file written and removed
 * in each. A folder it cannot write (read-only, wrong owner, a mount that is not there) stops the
 * start with the variable's name and the system's reason, instead of a ready service answering every
 * upload or report with a 500.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type Config } from '@icls/lib/config';

export async function assertWritableDirs(config: Pick<Config, 'UPLOAD_DIR' | 'FEEDBACK_DIR'>): Promise<void> {
  const failures: string[] = [];
  for (const name of ['UPLOAD_DIR', 'FEEDBACK_DIR'] as const) {
    const dir = config[name];
    const probe = join(dir, `.write-check-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, '', { flag: 'wx' });
      await rm(probe);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failures.push(`  ${name} ${dir}: the api cannot write there (${e.message})`);
    }
  }
  if (failures.length) throw new ConfigError(`invalid configuration:\n${failures.join('\n')}`);
}
