/**
 * Memory soak, not a test: sends N predictions at concurrency C to a running service and prints the
 * RSS of the api process and its worker children before and after (from /proc).
 *   node --conditions=source --import tsx scripts/soak-memory.ts --url http://127.0.0.1:8080 --pid <api pid> [--requests 10000] [--concurrency 8] [--image f]
 */
import { readFile, readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    pid: { type: 'string' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    image: { type: 'string', default: 'tests/fixtures/images/chelsea.png' },
  },
});
if (!values.pid) {
  console.error('--pid <api process id> is required (the process that `npm start` runs)');
  process.exit(2);
}
const rssMb = async (pid: string) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
};
const children = async (pid: string): Promise<string[]> => {
  const out: string[] = [];
  for (const t of await readdir(`/proc/${pid}/task`)) {
    const c = (await readFile(`/proc/${pid}/task/${t}/children`, 'utf8')).trim();
    if (c) out.push(...c.split(/\s+/));
  }
  return out;
};
const snapshot = async () => {
  const kids = await children(values.pid!);
  return { api: await rssMb(values.pid!), workers: await Promise.all(kids.map(rssMb)) };
};

const bytes = new Uint8Array(await readFile(values.image));
const total = Number(values.requests);
let sent = 0;
let failed = 0;
const before = await snapshot();
const t0 = Date.now();
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (sent < total) {
      sent++;
      const form = new FormData();
      form.set('file', new Blob([bytes]), 'soak.png');
      const r = await fetch(`${values.url}/predict`, { method: 'POST', body: form });
      await r.arrayBuffer();
      if (r.status !== 200) failed++;
      if (sent % 1000 === 0) process.stderr.write(`${sent}/${total} requests, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  }),
);
const after = await snapshot();
const fmt = (s: { api: number; workers: number[] }) => `api ${s.api.toFixed(0)} MB, workers ${s.workers.map((w) => w.toFixed(0) + ' MB').join(', ')}`;
console.log(`before: ${fmt(before)}\nafter ${total} requests (${failed} failed, ${((Date.now() - t0) / 1000).toFixed(0)} s): ${fmt(after)}`);
