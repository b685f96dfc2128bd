// Entry of every worker thread when the service runs from TypeScript sources. Worker threads do not
// inherit their process's `--import tsx` (tsx issue #354), so the loader is registered here before the
// real thread module is imported. A compiled build imports a .js module and skips tsx.
// `nativeFirst`: packages that need no transform, loaded before tsx is (tsx takes about 4 s to
// transform h5wasm's 4 MB script, which the HDF5 thread loads again after each damaged file).
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  for (const specifier of workerData.nativeFirst ?? []) await import(specifier);
  (await import('tsx/esm/api')).register();
}
await import(workerData.entry);
