// Entry of every inference thread. Worker threads do not inherit their process's `--import tsx`
// (tsx issue #354), so when the service runs from TypeScript sources the loader is registered here
// before the real thread module is imported. A compiled build imports a .js module and skips tsx.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) (await import('tsx/esm/api')).register();
await import(workerData.entry);
