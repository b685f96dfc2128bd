/**
 * Where a worker thread starts. Compiled code starts the thread on its `.js` module directly; from
 * TypeScript sources it starts on a small shim that registers tsx first (thread-entry.mjs, used in
 * development only: worker threads do not inherit `--import tsx`) and then imports the `.ts` module.
 */
export interface ThreadScript {
  /** What `new Worker()` runs. */
  entry: URL;
  /** The thread's module, of the same kind as the module asking: the shim's `workerData.entry`. */
  module: string;
}

const SHIM = new URL('./thread-entry.mjs', import.meta.url);

/** The thread module next to `baseUrl` (an `import.meta.url`) at `relative`, given without extension. */
export function threadScript(baseUrl: string, relative: string): ThreadScript {
  const fromSources = baseUrl.endsWith('.ts');
  const module = new URL(`${relative}${fromSources ? '.ts' : '.js'}`, baseUrl).href;
  return { entry: fromSources ? SHIM : new URL(module), module };
}
