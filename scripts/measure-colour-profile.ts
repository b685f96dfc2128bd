/**
 * What applying an embedded colour profile (ICC) would cost the workers, per photo that carries one:
 * not a test (timings are noisy on a shared machine), a script to re-run.
 *   node --conditions=source --import tsx scripts/measure-colour-profile.ts [--runs N]
 * For each ICC-tagged fixture it prints the CPU time (every thread of the process) per decode and
 * stretch-resize to 224×224 with the profile applied (sharp's default, which the workers used before)
 * and ignored (what decodeRgb does, as Pillow), one at a time and 4 in flight, and how far apart the
 * two results are in levels.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FIXTURE_IMAGES } from '@icls/bench/images';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '80' } } });
const runs = Number(values.runs);
sharp.cache(false);

const resized = (bytes: Buffer, ignoreIcc: boolean) =>
  sharp(bytes, { ignoreIcc }).resize(224, 224, { fit: 'fill', kernel: 'linear' }).removeAlpha().raw().toBuffer();

/** CPU ms per image over `runs` decodes, `inFlight` at a time. */
async function cpuMsPerImage(bytes: Buffer, ignoreIcc: boolean, inFlight: number): Promise<number> {
  await resized(bytes, ignoreIcc); // warm-up
  let started = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (started++ < runs) await resized(bytes, ignoreIcc);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / runs;
}

function maxLevelDiff(a: Buffer, b: Buffer): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

console.log('image | size | profile bytes | applied: 1 · 4 in flight | ignored: 1 · 4 in flight (core-ms/image) | max Δ levels');
for (const name of (await readdir(FIXTURE_IMAGES)).sort()) {
  const bytes = await readFile(join(FIXTURE_IMAGES, name));
  const meta = await sharp(bytes).metadata().catch(() => undefined);
  if (!meta?.icc) continue;
  const undecodable = await resized(bytes, false).then(
    () => undefined,
    (err: Error) => err.message,
  );
  if (undecodable) {
    console.log(`${name} | skipped: ${undecodable}`); // the broken fixtures test error paths
    continue;
  }
  const applied = [await cpuMsPerImage(bytes, false, 1), await cpuMsPerImage(bytes, false, 4)];
  const ignored = [await cpuMsPerImage(bytes, true, 1), await cpuMsPerImage(bytes, true, 4)];
  const diff = maxLevelDiff(await resized(bytes, false), await resized(bytes, true));
  const ms = (pair: number[]) => pair.map((v) => v.toFixed(2)).join(' · ');
  console.log(`${name} | ${meta.width}×${meta.height} | ${meta.icc.length} | ${ms(applied)} | ${ms(ignored)} | ${diff}`);
}
