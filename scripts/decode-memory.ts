/**
 * Measurement, not a test: what small files that decode to huge images cost a worker's memory. Starts a
 * real api and worker on Redis (the default model from MODELS_DIR, default ./models; settings as
 * given), sends each kind of 7000×7000 image (49 M pixels, under the default MAX_PIXELS) `--at-once`
 * times together, and prints the worker's resident memory before and its peak (VmHWM); meanwhile one
 * client posts ordinary photos (distinct small PNGs, one after the other) and their answer times are
 * printed too. Needs Redis on 127.0.0.1:6379 and the default model built. About a minute.
 *   node --conditions=source --import tsx scripts/decode-memory.ts [--at-once 2] [VARIABLE=value …]
 * `--flood`: instead, 2 of each of seven kinds (the three above, lossless WebP, palette PNG, grey 16-bit
 * PNG, CMYK JPEG) all at once, and a fixture photo every 0.5 s for 8 s (distinct top_k, so none is
 * answered from the cache); prints every answer's status and time.
 * For the behaviour before DECODE_MEMORY_BYTES, pass DECODE_MEMORY_BYTES=100000000000.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import sharp, { type Sharp } from 'sharp';
import { solidPng, tempDir } from '../tests/helpers/fixtures.ts';
import { waitFor200 } from '../tests/helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, scriptNodeFlags, startService } from '../tests/helpers/processes.ts';

const { values, positionals } = parseArgs({ options: { 'at-once': { type: 'string', default: '2' }, flood: { type: 'boolean', default: false } }, allowPositionals: true });
const flood = values.flood;
const atOnce = flood ? 2 : Number(values['at-once']);
const given = Object.fromEntries(positionals.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env: Record<string, string> = {
  QUEUE_MODE: 'redis',
  REDIS_URL,
  REDIS_PREFIX: `decode-memory-${randomBytes(4).toString('hex')}`,
  MODELS_DIR: './models',
  UPLOAD_DIR: await tempDir('uploads'),
  FEEDBACK_DIR: await tempDir('feedback'),
  LOG_LEVEL: 'warn',
  ...given,
  PORT: String(port),
};

const side = 7000;
const canvas = () => sharp({ create: { width: side, height: side, channels: 4, background: { r: 200, g: 30, b: 90, alpha: 0.5 } }, limitInputPixels: false });
// Each kind comes in `atOnce` distinct files (one pixel differs), so the api's result cache answers none of them.
async function variants(encode: (img: Sharp) => Sharp): Promise<Buffer[]> {
  const files: Buffer[] = [];
  for (let i = 0; i < atOnce; i++) {
    const dot = { input: { create: { width: 1, height: 1, channels: 4 as const, background: { r: i, g: 0, b: 0, alpha: 1 } } }, left: i, top: 0 };
    files.push(await encode(canvas().composite([dot])).toBuffer());
  }
  return files;
}
const kinds: [string, string, () => Promise<Buffer[]>][] = [
  ['interlaced 16-bit RGBA PNG', 'png', () => variants((img) => img.png({ progressive: true, compressionLevel: 9 }).toColourspace('rgb16'))],
  ['progressive JPEG', 'jpg', () => variants((img) => img.removeAlpha().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }))],
  ['GIF', 'gif', () => variants((img) => img.gif())],
];
const floodKinds: typeof kinds = [
  ...kinds,
  ['lossless WebP', 'webp', () => variants((img) => img.webp({ lossless: true }))],
  ['palette PNG', 'png', () => variants((img) => img.png({ palette: true, compressionLevel: 9 }))],
  ['grey 16-bit PNG', 'png', () => variants((img) => img.removeAlpha().toColourspace('grey16').png({ compressionLevel: 9 }))],
  ['CMYK JPEG', 'jpg', () => variants((img) => img.removeAlpha().toColourspace('cmyk').jpeg())],
];

const api = startService(ENTRY.api, env, scriptNodeFlags('start:api'));
const worker = startService(ENTRY.worker, env, scriptNodeFlags('start:model'));
const status = async (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(await readFile(`/proc/${worker.proc.pid}/status`, 'utf8'))![1]) / 1024;
try {
  await waitFor200(`${base}/readyz`, 60_000, () => `${api.logs()}\n${worker.logs()}`);
  console.log(`worker resident at start: ${(await status('VmRSS')).toFixed(0)} MB; DECODE_MEMORY_BYTES=${env.DECODE_MEMORY_BYTES ?? '(default)'}; ${atOnce} at once`);
  const post = async (bytes: Buffer, name: string): Promise<string> => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)]), name);
    const res = await fetch(`${base}/v1/predict`, { method: 'POST', body: form });
    return `${res.status}${res.ok ? '' : ` ${((await res.json()) as { error?: { code?: string } }).error?.code}`}`;
  };
  if (flood) {
    const files = (await Promise.all(floodKinds.map(async ([what, ext, make]) => (await make()).map((bytes, i) => ({ what, name: `huge-${i}.${ext}`, bytes }))))).flat();
    const timed = async (send: () => Promise<string>) => {
      const t0 = performance.now();
      const answer = await send();
      return { answer, ms: performance.now() - t0 };
    };
    const hostile = files.map((f) => timed(() => post(f.bytes, f.name)).then((r) => ({ ...r, what: f.what })));
    const photos: Promise<{ answer: string; ms: number }>[] = [];
    const fixtures = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'];
    for (let i = 0; i < 16; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const name = fixtures[i % 4]!;
      const bytes = await readFile(`tests/fixtures/images/${name}`);
      photos.push(timed(async () => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(bytes)]), name);
        const res = await fetch(`${base}/v1/predict?top_k=${1 + (i >> 2)}`, { method: 'POST', body: form });
        return `${res.status}`;
      }));
    }
    for (const h of await Promise.all(hostile)) console.log(`  ${h.what}: ${h.answer} after ${(h.ms / 1000).toFixed(1)} s`);
    const p = await Promise.all(photos);
    const ms = p.map((x) => x.ms).sort((a, b) => a - b);
    console.log(`photos: ${p.map((x) => x.answer).join(' ')}; median ${(ms[ms.length >> 1]! / 1000).toFixed(1)} s, slowest ${(ms.at(-1)! / 1000).toFixed(1)} s`);
    console.log(`worker peak resident ${(await status('VmHWM')).toFixed(0)} MB`);
  }
  let photo = 0;
  for (const [what, ext, make] of flood ? [] : kinds) {
    const files = await make();
    const before = await status('VmRSS');
    const t0 = performance.now();
    let done = false;
    const hostile = Promise.all(files.map((bytes, i) => post(bytes, `huge-${i}.${ext}`))).finally(() => (done = true));
    const photoMs: number[] = [];
    const photoAnswers = new Set<string>();
    while (!done) {
      const png = await solidPng([photo % 256, (photo >> 8) % 256, 99], 640, 480);
      photo++;
      const p0 = performance.now();
      photoAnswers.add(await post(png, `photo-${photo}.png`));
      photoMs.push(performance.now() - p0);
    }
    const answers = await hostile;
    photoMs.sort((a, b) => a - b);
    console.log(
      `${what} (${(files[0]!.length / 1e6).toFixed(2)} MB each): answers ${answers.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `worker resident before ${before.toFixed(0)} MB, peak so far ${(await status('VmHWM')).toFixed(0)} MB; ` +
        `meanwhile ${photoMs.length} photos (${[...photoAnswers].join(', ')}): median ${photoMs[photoMs.length >> 1]?.toFixed(0)} ms, slowest ${photoMs.at(-1)?.toFixed(0)} ms`,
    );
  }
} finally {
  await Promise.all([api.stop(), worker.stop()]);
  await deleteRedisPrefix(env.REDIS_PREFIX);
}
