/**
 * The image set of a bench run. One set feeds both the in-process ceiling and the load steps, so
 * the served/ceiling ratio compares the same work.
 *
 * Default set: the CC0 photos of tests/fixtures/images plus images generated at run time in several
 * sizes, up to a 12-megapixel JPEG (4000×3000, ~3.5 MB, a phone photo). They are made from a fixture
 * photo with seeded noise, so JPEG cannot compress them unrealistically well; they are cached in the
 * temp folder (never committed) because the 12 MP one takes seconds to encode.
 */
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { markerFor, type Marker } from './distinct-upload.ts';
import { multipartBody, type MultipartBody } from './http-client.ts';

/** The committed CC0 photos. */
export const FIXTURE_IMAGES = fileURLToPath(new URL('../tests/fixtures/images/', import.meta.url));

/** Fixture files that are broken on purpose (they test error paths, not throughput). */
const BROKEN_FIXTURES = new Set(['corrupt.jpg', 'truncated.jpg']);
const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** Bump when the generated set changes, so stale caches are not reused. */
const GENERATED_VERSION = 1;
const GENERATED: { name: string; width: number; height: number; format: 'jpeg' | 'png' }[] = [
  { name: 'gen-320x240.jpg', width: 320, height: 240, format: 'jpeg' },
  { name: 'gen-1024x768.png', width: 1024, height: 768, format: 'png' },
  { name: 'gen-1920x1080.jpg', width: 1920, height: 1080, format: 'jpeg' },
  { name: 'gen-4000x3000.jpg', width: 4000, height: 3000, format: 'jpeg' },
];

/** One image, in memory, with its multipart bodies ready for the two predict endpoints. */
export interface BenchImage {
  name: string;
  path: string;
  bytes: Buffer;
  width: number;
  height: number;
  format: string;
  contentType: string;
  /** `file` field only: for /predict and /v1/predict. */
  upload: MultipartBody;
  /** Where a comment makes each upload distinct (undefined: this format is sent as it is). */
  marker?: Marker;
}

export interface ImageSet {
  dir: string;
  /** True when the default set was used (fixtures + generated). */
  generated: boolean;
  images: BenchImage[];
  /** Files of a user folder that were skipped, with why. */
  skipped: { name: string; reason: string }[];
}

/**
 * Loads the image set: every decodable image of `folder`, or the default set when `folder` is unset.
 * Throws when no usable image is left.
 */
export async function loadImageSet(folder: string | undefined, log: (msg: string) => void): Promise<ImageSet> {
  if (folder) {
    const set = await readFolder(folder, new Set());
    if (set.images.length === 0) throw new Error(`no decodable png/jpg/jpeg/gif/webp image in ${folder}`);
    return { dir: folder, generated: false, ...set };
  }
  const dir = join(tmpdir(), `icls-bench-images-v${GENERATED_VERSION}`);
  await generateImages(dir, log);
  const fixtures = await readFolder(FIXTURE_IMAGES, BROKEN_FIXTURES);
  const generated = await readFolder(dir, new Set());
  const images = [...fixtures.images, ...generated.images];
  return { dir, generated: true, images, skipped: [...fixtures.skipped, ...generated.skipped] };
}

async function readFolder(folder: string, skipNames: Set<string>): Promise<Omit<ImageSet, 'dir' | 'generated'>> {
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (err) {
    throw new Error(`cannot read image folder ${folder}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const images: BenchImage[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name).toLowerCase()];
    if (!contentType || skipNames.has(name)) continue;
    const path = join(folder, name);
    const bytes = await readFile(path);
    try {
      // A full decode, not just the header: truncated files have valid headers.
      const { info } = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
      const meta = await sharp(bytes).metadata();
      images.push({
        name,
        path,
        bytes,
        width: info.width,
        height: info.height,
        format: meta.format ?? extname(name).slice(1),
        contentType,
        upload: multipartBody({}, { field: 'file', filename: name, contentType, data: bytes }),
        marker: markerFor(bytes),
      });
    } catch (err) {
      skipped.push({ name, reason: `does not decode (${(err as Error).message})` });
    }
  }
  return { images, skipped };
}

/** Writes the generated images into `dir` unless they are already there. */
async function generateImages(dir: string, log: (msg: string) => void): Promise<void> {
  await mkdir(dir, { recursive: true });
  const source = join(FIXTURE_IMAGES, 'rocket.jpg');
  for (const spec of GENERATED) {
    const target = join(dir, spec.name);
    const have = await stat(target).then(
      (s) => s.size > 0,
      () => false,
    );
    if (have) continue;
    const t0 = performance.now();
    const { data, info } = await sharp(source).resize(spec.width, spec.height, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
    addNoise(data, spec.width * 7919 + spec.height);
    const img = sharp(data, { raw: info });
    const out = spec.format === 'jpeg' ? await img.jpeg({ quality: 90 }).toBuffer() : await img.png().toBuffer();
    // Write then rename: a half-written cache file from an interrupted run is never reused.
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, out);
    await rename(tmp, target);
    log(`generated ${spec.name} (${(out.length / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** Adds ±16 of seeded noise per channel: upscaled photos are too smooth to be realistic JPEG payloads. */
function addNoise(data: Buffer, seed: number): void {
  let s = (seed | 1) >>> 0;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const v = data[i]! + ((s & 31) - 16);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/** One line per image: name, size, bytes. */
export function describeImages(images: readonly BenchImage[]): string {
  return images.map((i) => `${i.name} ${i.width}×${i.height} ${(i.bytes.length / 1024).toFixed(0)} KiB`).join(', ');
}
