/**
 * A folder on its own small tmpfs, so a test meets the kernel's own ENOSPC. Mounting needs root (CI
 * runs as root); elsewhere the caller skips the test and says why.
 */
import { spawnSync } from 'node:child_process';

/** Mounts a tmpfs of `size` (mount's syntax: `1m`) on `dir`; undefined on success, else why it could not. */
export function mountTinyDisk(dir: string, size = '1m', readOnly = false): string | undefined {
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.status === 0) return undefined;
  return `cannot mount a tmpfs here (${(mount.stderr || mount.error?.message || '').trim()}); needs root`;
}

export function unmountTinyDisk(dir: string): void {
  spawnSync('umount', [dir]);
}
