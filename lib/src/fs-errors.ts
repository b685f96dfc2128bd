/** How the project reads file-system errors, in one place. */

/**
 * For `.catch(…)`: a missing file or folder (ENOENT) gives `value`; any other failure is thrown on,
 * never hidden.
 */
export function whenMissing<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return value;
    throw err;
  };
}

/** The disk, or the user's quota, is full: nothing the request did wrong. */
export function isNoRoom(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
