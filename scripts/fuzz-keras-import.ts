/**
 * What `models import` reads from damaged copies of a Keras file (default: the legacy
 * tests/fixtures/keras/tiny_resnet.h5): overwrites `--bytes` pseudo-random bytes at every `--step`-th
 * offset of the file's HDF5 data (the whole .h5; in a .keras archive, its stored model.weights.h5),
 * reads each copy as the import does, and prints each distinct outcome once, how many copies gave each
 * kind, and the slowest reads. Runs the compiled build (0.3–0.5 s per HDF5 thread, which each damaged
 * copy replaces):
 *
 *   npm run build && node --import tsx scripts/fuzz-keras-import.ts --step 40
 *   node --import tsx scripts/fuzz-keras-import.ts --file tests/fixtures/keras/tiny_resnet.keras --step 40
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readKerasFile } from '@icls/model/import/keras-file';
import { numberFlag, UsageError } from '@icls/lib/usage-error';
import { mulberry32 } from '@icls/lib/seeded-random';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Names and numbers vary from copy to copy; the outcome's kind does not. A damage report's kind is its reason. */
function outcomeKey(kind: string, message: string): string {
  const reason = message.replace(/^.*?truncated or corrupt \(/, '');
  return `${kind}: ${reason.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 60)}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', default: 'tests/fixtures/keras/tiny_resnet.h5' },
      step: { type: 'string', default: '40' },
      bytes: { type: 'string', default: '8' },
      seed: { type: 'string', default: '5' },
    },
  });
  const step = numberFlag('--step', values.step, { min: 1, max: 1_000_000, integer: true })!;
  const bytes = numberFlag('--bytes', values.bytes, { min: 1, max: 4096, integer: true })!;
  const seed = numberFlag('--seed', values.seed, { min: 0, max: 2 ** 31, integer: true })!;
  const original = await readFile(values.file).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--file ${values.file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const h5At = original.indexOf(HDF5_SIGNATURE);
  if (h5At < 0) throw new UsageError(`--file ${values.file} holds no HDF5 data`);
  const random = mulberry32(seed);
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-keras-'));
  const copy = join(dir, `damaged${values.file.endsWith('.keras') ? '.keras' : '.h5'}`);
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  const slowest: { offset: number; ms: number; kind: string }[] = [];
  try {
    for (let offset = h5At; offset + bytes <= original.length; offset += step) {
      const damaged = Buffer.from(original);
      for (let i = 0; i < bytes; i++) damaged[offset + i] = Math.floor(random() * 256);
      await writeFile(copy, damaged);
      const t0 = performance.now();
      let kind = 'read whole';
      let message = '';
      try {
        await readKerasFile(copy);
      } catch (err) {
        message = (err instanceof Error ? err.message : String(err)).replaceAll(copy, '<copy>');
        kind = /is not a readable Keras file: its HDF5 data is truncated or corrupt/.test(message) ? 'damage reported' : err instanceof Error ? err.name : 'thrown';
      }
      const ms = performance.now() - t0;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      slowest.push({ offset: offset - h5At, ms, kind });
      const key = outcomeKey(kind, message);
      if (message && !seen.has(key)) {
        seen.add(key);
        console.log(`+${offset - h5At} (${ms.toFixed(0)} ms) ${kind}: ${message.slice(0, 300)}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\n${[...counts.values()].reduce((a, b) => a + b, 0)} copies: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  console.log('slowest reads (offset into the HDF5 data):');
  for (const s of slowest.sort((a, b) => b.ms - a.ms).slice(0, 5)) console.log(`  +${s.offset}: ${(s.ms / 1000).toFixed(2)} s (${s.kind})`);
}

main().then(
  // The HDF5 thread may still be finishing a read it was told to stop.
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof UsageError ? err.message : err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
