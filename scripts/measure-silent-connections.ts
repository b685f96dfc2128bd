/** 1,024 connections that never send a byte, then /healthz tried every 50 ms: how long until it answers (README, hostile input, "open many connections"). */
import { connect, type Socket } from 'node:net';
import { startStandInApi } from '../api/test/stand-in-api.ts';

const api = await startStandInApi({});
const sockets: Socket[] = [];
for (let i = 0; i < 1024; i++) {
  const s = connect(api.port, '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  sockets.push(s);
}
const start = Date.now();
let tries = 0;
for (;;) {
  tries++;
  const ok = await fetch(`http://127.0.0.1:${api.port}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
  if (ok) break;
  await new Promise((r) => setTimeout(r, 50));
}
console.log(`healthz answered ${Date.now() - start} ms after 1024 silent connections, after ${tries} tries`);
for (const s of sockets) s.destroy();
await api.close();
