/**
 * Free TCP ports on 127.0.0.1, for tests and the bench, which start services of their own.
 *
 * They are picked below the kernel's ephemeral range (Linux: net.ipv4.ip_local_port_range, 32768–60999
 * by default), never from it: a port from that range that was free when checked can be taken, before
 * the service given it has started and listens, by any outgoing connection (another test's HTTP or
 * Redis client picks its local port there). A port below the range can only be taken by a program
 * that asks for it by number.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;
const ATTEMPTS = 200;

/** The first port of the ephemeral range, read once: 32768 where the kernel does not say (not Linux). */
let ephemeralFirst: number | undefined;
function ephemeralStart(): number {
  ephemeralFirst ??= readEphemeralStart();
  return ephemeralFirst;
}

function readEphemeralStart(): number {
  let text: string;
  try {
    text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 32_768;
    throw err;
  }
  const first = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(first)) throw new Error(`ip_local_port_range reads ${JSON.stringify(text)}`);
  return first;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel picks (from the ephemeral range), for a machine with no room below it. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The first of `count` consecutive ports free when checked (for `npm start`'s workers, which take a
 * metrics port each from WORKER_METRICS_PORT on). Another program may still take one after.
 */
export async function freePortRange(count: number): Promise<number> {
  const end = ephemeralStart();
  const room = end - LOWEST - count;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const first = room >= 1000 ? LOWEST + Math.floor(Math.random() * room) : await kernelPort();
    if (first + count > 65536) continue;
    let all = true;
    for (let p = first; p < first + count && all; p++) all = await isFree(p);
    if (all) return first;
  }
  throw new Error(`no ${count} consecutive free ports found in ${ATTEMPTS} tries`);
}

/** A port free when checked. */
export function freePort(): Promise<number> {
  return freePortRange(1);
}
