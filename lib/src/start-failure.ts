/**
 * The one line a process prints when it cannot start: a configuration error as it is (it names the
 * variables), anything else as `start failed: …`, never a stack trace. A listen failure names the
 * settings that chose the address.
 */
import { ConfigError } from './config.ts';

export function startFailure(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  const { message, syscall, code } = (err ?? {}) as NodeJS.ErrnoException;
  const hint = syscall === 'listen' || code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' ? ' (check HOST and PORT)' : '';
  return `start failed: ${message ?? String(err)}${hint}`;
}
