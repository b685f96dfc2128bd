/**
 * Measurement, not a test: what the upload sweeper costs on a big folder. Makes N one-byte uploads in a
 * temporary folder, half of them 10 days old, then times one sweep that removes the old half (7-day
 * keep time) and one that only scans what is left, with the sweeper's own pacing. Prints wall time
 * and this process's CPU time (every thread: the fs calls run on libuv's thread pool).
 *   node --conditions=source --import tsx scripts/measure-sweep.ts [N=100000]
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepUploads } from '../api/src/upload/upload-retention.ts';

const n = Number(process.argv[2] ?? 100_000);
const dir = await mkdtemp(join(tmpdir(), 'icls-sweep-'));
try {
  const old = new Date(Date.now() - 10 * 86_400_000);
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, async (_, k) => {
        const path = join(dir, `${(i + k).toString(16).padStart(32, '0')}.jpg`);
        await writeFile(path, 'x');
        if ((i + k) % 2 === 0) await utimes(path, old, old);
      }),
    );
  }
  const policy = { keepMs: 7 * 86_400_000, maxBytes: 0, tempKeepMs: 3_600_000, inUseMs: 60_000 };
  for (const what of ['removes the old half', 'scans the rest']) {
    const files = n - (what === 'scans the rest' ? Math.ceil(n / 2) : 0);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await sweepUploads(dir, policy, async () => new Set());
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${files} files, sweep ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; removed ${result.removed.age}, left ${result.files}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
