/**
 * How long the api's front door takes while something else loads it: `GET /healthz` on a new connection
 * every `--every` ms for `--seconds`, each bounded by a 10 s timeout; prints p50/p90/p99/max and the
 * slowest probes with their start times. Run it beside a bench step, e.g.
 *
 *   npm start &                                                    # or any running system
 *   npm run bench -- --url http://127.0.0.1:8080 --concurrency 1 --rates 130 --duration 20 &
 *   node --conditions=source --import tsx scripts/healthz-probe.ts --url http://127.0.0.1:8080 --after 22 --seconds 15
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { numberFlag, UsageError } from '@icls/lib/usage-error';
import { distribution, fmt } from '../bench/stats.ts';

const TIMEOUT_MS = 10_000;

interface Probe {
  at: number;
  ms: number;
  error?: string;
}

function probe(url: URL): Promise<Omit<Probe, 'at'>> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const done = (error?: string) => resolve({ ms: performance.now() - t0, error });
    // agent: false: a new connection each time, as a new client would open.
    const req = http.get(new URL('/healthz', url), { agent: false, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
      res.on('error', (err) => done(err.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done(err.message));
  });
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { url: { type: 'string', default: 'http://127.0.0.1:8080' }, every: { type: 'string', default: '50' }, seconds: { type: 'string', default: '15' }, after: { type: 'string', default: '0' } },
  });
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url must be a URL like http://127.0.0.1:8080, got "${values.url}"`);
  }
  const everyMs = numberFlag('--every', values.every, { min: 1, max: 60_000 })!;
  const seconds = numberFlag('--seconds', values.seconds, { min: 1, max: 3600 })!;
  const afterS = numberFlag('--after', values.after, { min: 0, max: 3600 })!;
  await new Promise((r) => setTimeout(r, afterS * 1000));
  const t0 = Date.now();
  const running: Promise<Probe>[] = [];
  while (Date.now() - t0 < seconds * 1000) {
    const at = Date.now() - t0;
    running.push(probe(url).then((p) => ({ at, ...p })));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const probes = await Promise.all(running);
  const d = distribution(probes.map((p) => p.ms));
  console.log(`${d.count} probes, ${probes.filter((p) => p.error).length} failed: p50 ${fmt(d.p50)} ms, p90 ${fmt(d.p90)}, p99 ${fmt(d.p99)}, max ${fmt(d.max)}`);
  for (const p of [...probes].sort((a, b) => b.ms - a.ms).slice(0, 5)) console.log(`  at ${p.at} ms: ${fmt(p.ms)} ms${p.error ? ` (${p.error})` : ''}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof UsageError ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
