/**
 * One line per committed bench run (bench/results/*.json of `npm run bench`), as a Markdown table: the
 * machine, the model's two limits, and issue 13's targets as that run judged them. Runs on different
 * VMs are not comparable with each other; the table is for finding a run, its own report says the rest.
 *   node --conditions=source --import tsx scripts/bench-history.ts [results-folder]
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from '../bench/result-types.ts';
import { signed } from '../bench/stats.ts';

const USAGE = 'usage: node --conditions=source --import tsx scripts/bench-history.ts [results-folder]  (default: bench/results)';
const given = process.argv[2];
if (given === '--help' || given === '-h') {
  console.log(USAGE);
  process.exit(0);
}
const folder = given ?? fileURLToPath(new URL('../bench/results/', import.meta.url));
// Before the table's header: a folder that is not there was a stack trace after it.
const names = await readdir(folder).catch((err: NodeJS.ErrnoException) => {
  console.error(`bench-history: cannot read ${folder} (${err.code ?? err.message}); ${USAGE}`);
  process.exit(1);
});
const cpu = (model: string) => (/EPYC/.test(model) ? 'AMD EPYC' : /Xeon/.test(model) ? 'Intel Xeon' : model);
const fixed = (v: number, digits = 1) => v.toFixed(digits);

console.log('| run | machine | model | ceiling, images/s (core-ms/image) | floor ms | p50 at one client, ms (gap) | served peak, images/s (share) | 2× overload: accepted p99/p50 |');
console.log('|---|---|---|---:|---:|---:|---:|---:|');
// `--quick` runs (`-quick.json`) are sanity checks, not results.
for (const name of names.filter((f) => f.endsWith('.json') && !f.endsWith('-quick.json')).sort()) {
  const run = JSON.parse(await readFile(join(folder, name), 'utf8')) as Partial<BenchResult>;
  const { floor, ceiling, overload } = run.targets ?? {};
  if (!floor || !ceiling || !run.ceiling || !run.machine) continue; // --overhead and --scaling results have other shapes
  // Results written before 2026-12-02 have the one-at-a-time figure only.
  const coreSeconds = run.ceiling.coreSecondsPerImage ?? run.ceiling.sequential.coreSecondsPerImage;
  const over = overload ? `${fixed(overload.acceptedP99OverP50, 2)}${overload.met ? '' : ' (not met)'}` : '–';
  console.log(
    `| [${basename(name, '.json')}](${basename(name, '.json')}.md) | ${cpu(run.machine.cpuModel)}, ${run.machine.cores} cores | ${run.model} | ` +
      `${fixed(run.ceiling.imagesPerSecond)}${coreSeconds ? ` (${fixed(coreSeconds * 1000)})` : ''} | ${fixed(run.ceiling.floorMs)} | ` +
      `${fixed(floor.p50AtOneClientMs)} (${signed(floor.marginMs, (v) => fixed(v, 2))}) | ${fixed(ceiling.peak)} (${Math.round(ceiling.ratio * 100)} %) | ${over} |`,
  );
}
