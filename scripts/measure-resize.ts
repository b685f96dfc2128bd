/**
 * Measures what Pillow-exact resizing costs per image, and how far the pre-reduced path for large
 * images strays from Pillow: not a test (timings are noisy on a shared machine), a script to re-run.
 *   node --conditions=source --import tsx scripts/measure-resize.ts [images-folder] [--runs N]
 * Default images: the bench's mix (the CC0 fixtures plus generated 320×240 … 4000×3000 photos).
 * For each image and recipe it prints the median CPU time of decodeRgb (decode + orient + resize), the
 * CPU time of sharp doing the whole resize (the previous pipeline, for comparison), and the largest
 * difference in levels between decodeRgb and Pillow's result on the full image (resizeBilinearPil /
 * resizeNearestPil on every decoded pixel, which tests show equal to Pillow's own).
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadImageSet } from '@icls/bench/images';
import { decodeRgb, resizeTarget, type ResizePlan } from '@icls/model/image/image';
import { resizeBilinearPil, resizeNearestPil } from '@icls/model/image/pil-resize';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '7' } }, allowPositionals: true });
const runs = Number(values.runs);
const set = await loadImageSet(positionals[0], (m) => console.error(m));

const RECIPES: { name: string; plan: ResizePlan; kernel: 'linear' | 'nearest' }[] = [
  { name: 'zoo crop (bilinear)', plan: { width: 224, height: 224, mode: 'shorter-side-then-center-crop', shorterSide: 256, interpolation: 'bilinear' }, kernel: 'linear' },
  { name: 'stretch bilinear (libvips)', plan: { width: 224, height: 224, mode: 'stretch', shorterSide: 224, interpolation: 'bilinear' }, kernel: 'linear' },
  { name: 'keras load_img (nearest)', plan: { width: 224, height: 224, mode: 'stretch', shorterSide: 224, interpolation: 'nearest' }, kernel: 'nearest' },
];

/**
 * Median CPU time (user + system, every thread of the process: libvips works on its own threads) of
 * one call, in ms. CPU time rather than wall time, so other work on a shared machine disturbs it less;
 * it is also what the bench's ceiling divides the cores by.
 */
async function medianCpuMs(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  await fn(); // warm-up (JIT, file cache)
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(before);
    times.push((used.user + used.system) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** The previous pipeline: libvips resizes (and crops) everything itself. */
async function sharpOnly(bytes: Buffer, plan: ResizePlan, kernel: 'linear' | 'nearest', w: number, h: number): Promise<Buffer> {
  const target = resizeTarget(plan, w, h);
  return sharp(bytes, { ignoreIcc: true }).rotate().flatten({ background: '#ffffff' }).toColourspace('srgb')
    .resize(target.width, target.height, { fit: 'fill', kernel }).extract(target.window).removeAlpha().raw().toBuffer();
}

async function pillowOnFullImage(bytes: Buffer, plan: ResizePlan, w: number, h: number): Promise<Uint8Array> {
  // Pillow ignores embedded colour profiles, as decodeRgb does.
  const { data, info } = await sharp(bytes, { ignoreIcc: true }).rotate().flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const target = resizeTarget(plan, w, h);
  const resize = plan.interpolation === 'nearest' ? resizeNearestPil : resizeBilinearPil;
  return resize({ data, width: info.width, height: info.height }, target.width, target.height, target.window).data;
}

console.log(`median CPU ms (user + system, all threads) of ${runs} runs per cell\n`);
console.log('| image | recipe | decodeRgb CPU ms | sharp-only CPU ms | max level diff vs Pillow |\n|---|---|---:|---:|---:|');
const totals = new Map<string, { ours: number; sharp: number; worst: number }>();
for (const image of set.images) {
  for (const r of RECIPES) {
    const ours = await medianCpuMs(() => decodeRgb(image.bytes, r.plan, 100_000_000));
    const old = await medianCpuMs(() => sharpOnly(image.bytes, r.plan, r.kernel, image.width, image.height));
    const got = (await decodeRgb(image.bytes, r.plan, 100_000_000)).data;
    const exact = await pillowOnFullImage(image.bytes, r.plan, image.width, image.height);
    let worst = 0;
    for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(got[i]! - exact[i]!));
    const t = totals.get(r.name) ?? { ours: 0, sharp: 0, worst: 0 };
    totals.set(r.name, { ours: t.ours + ours, sharp: t.sharp + old, worst: Math.max(t.worst, worst) });
    console.log(`| ${image.name} ${image.width}×${image.height} | ${r.name} | ${ours.toFixed(1)} | ${old.toFixed(1)} | ${worst} |`);
  }
}
console.log('\n| recipe | mean decodeRgb CPU ms/image | mean sharp-only CPU ms/image | worst level diff |\n|---|---:|---:|---:|');
for (const [name, t] of totals) {
  const n = set.images.length;
  console.log(`| ${name} | ${(t.ours / n).toFixed(1)} | ${(t.sharp / n).toFixed(1)} | ${t.worst} |`);
}
