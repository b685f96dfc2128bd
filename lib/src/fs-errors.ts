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

/**
 * The folder cannot be written at all: a disk remounted read-only (EROFS), or a folder or file this
 * user may not write (EACCES, EPERM). Unlike a full disk it does not pass by itself: an operator must act.
 */
export function isUnwritable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EROFS' || code === 'EACCES' || code === 'EPERM';
}

/**
 * A failed write on an open file ("ENOSPC: no space left on device, write") names no file: this names it,
 * in the message and as `path`, so the log says which write failed.
 */
export function withPath<E>(err: E, path: string): E {
  const e = err as (Error & { path?: string }) | undefined;
  if (e instanceof Error && !e.path) {
    e.path = path;
    e.message = `${e.message} (${path})`;
  }
  return err;
}
