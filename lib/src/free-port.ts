import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (for tests and the bench, which start services of their own). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive free ports (for `npm start`'s workers, which take a metrics port
 * each from WORKER_METRICS_PORT on). Free when checked: another program may still take one after.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    if (first + count > 65536) continue;
    let all = true;
    for (let p = first + 1; p < first + count && all; p++) all = await isFree(p);
    if (all) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
