/**
 * Paths of sibling modules that another process or thread loads by file name (a worker process's entry,
 * a worker thread's script). Compiled code runs `.js` files and development runs `.ts` through tsx, so
 * the sibling takes the extension of the module asking for it.
 */
import { fileURLToPath } from 'node:url';

/** The file next to `baseUrl` (an `import.meta.url`) at `relative`, given without extension. */
export function siblingModule(baseUrl: string, relative: string): string {
  const ext = baseUrl.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`${relative}${ext}`, baseUrl));
}
