/**
 * Image decoding and resizing, on sharp. The only module that imports sharp.
 * Workers use `decodeRgb` to get the pixels a model needs, with EXIF orientation applied.
 * Two recipes resize exactly as Pillow does (`pil-resize.ts`), because Pillow made the pixels those
 * models were trained and checked on, and libvips' grid and rounding differ (up to ~100 levels when
 * enlarging): `nearest` (Keras' load_img) and `bilinear` in crop mode (the ONNX Model Zoo / torchvision
 * recipe). Large images keep JPEG shrink-on-load there: sharp first reduces them to 3× the size Pillow's
 * filter works from, which stays within 2 levels of Pillow (measured: scripts/measure-resize.ts).
 * Stretch `bilinear` (the nsfwjs models, whose own reference is TF.js's resize, not Pillow's) and the
 * other kernels stay on libvips, which is cheaper on large photos.
 * Embedded colour profiles (ICC) are ignored, as Pillow ignores them: the model gets the pixel values as
 * stored, the same the original service (Keras' load_img) and the models' training pipelines read. Applying
 * them also cost 3–8 core-ms more per tagged photo of 0.1–0.3 megapixels (scripts/measure-colour-profile.ts;
 * most are tagged sRGB, where the result was the same bytes anyway): about the default model's inference.
 * (The api checks uploads without decoding: lib/src/image-header.ts.)
 */
import sharp, { type KernelEnum, type OutputInfo, type Sharp } from 'sharp';
import { decodedBytes, ImageHeaderError, readImageHeader } from '@icls/lib/image-header';
import { resizeBilinearPil, resizeNearestPil, shorterSideCrop, type OutputWindow } from './pil-resize.ts';

// Decoding is on libuv's pool; the cache only helps repeated identical operations, which we never do.
sharp.cache(false);

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}
export class ImageTooLargeError extends Error {
  override name = 'ImageTooLargeError';
}

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3';

export interface ResizePlan {
  /** Final size handed to the model. */
  width: number;
  height: number;
  mode: 'stretch' | 'shorter-side-then-center-crop';
  /** Crop mode: the shorter side is resized to this, then the centre width×height is cut out. */
  shorterSide: number;
  interpolation: Interpolation;
}

export interface RgbPixels {
  /** Interleaved RGB bytes, row-major (HWC). */
  data: Buffer;
  width: number;
  height: number;
}

/** Kernels of the resizes libvips does (Pillow's are done in TypeScript). */
const KERNEL: Record<Exclude<Interpolation, 'nearest'>, keyof KernelEnum> = {
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
};


/**
 * For bilinear, sharp pre-reduces an image to this many times the resize target first when that
 * saves real work (JPEG shrink-on-load decodes a 12 MP photo at a quarter of its pixels); PIL's filter
 * from there stays within 2 levels of PIL's from the full image at 3× (2× was up to 18 levels off).
 */
export const PRE_REDUCE_FACTOR = 3;

/** The size the image is resized to and the window of it the model gets. */
export interface ResizeTarget {
  width: number;
  height: number;
  window: OutputWindow;
}

/** Resize size and crop window for an image of w × h (after EXIF orientation). */
export function resizeTarget(plan: ResizePlan, w: number, h: number): ResizeTarget {
  if (plan.mode === 'stretch') return { width: plan.width, height: plan.height, window: { left: 0, top: 0, width: plan.width, height: plan.height } };
  return shorterSideCrop(w, h, plan.shorterSide, plan.width, plan.height);
}

/** Size sharp pre-reduces to for a bilinear resize, or undefined when the full image is cheap enough. */
export function preReduceSize(w: number, h: number, target: ResizeTarget): { width: number; height: number } | undefined {
  const width = Math.min(w, target.width * PRE_REDUCE_FACTOR);
  const height = Math.min(h, target.height * PRE_REDUCE_FACTOR);
  return w * h > 1.5 * width * height ? { width, height } : undefined;
}

/** Bytes per pixel of the RGB copy of the whole image that the Pillow-exact nearest resize reads from. */
const NEAREST_COPY_BYTES_PER_PIXEL = 3;

/**
 * The memory decoding `image` for `plan` may hold at its peak, estimated from its header: the whole
 * image at its decoder's bytes per pixel (libvips streams some formats in far less, so this is an upper
 * estimate for them), plus the RGB copy a nearest resize reads. Measured peaks for 7000×7000 images
 * (scripts/decode-memory.ts): an interlaced 16-bit RGBA PNG 416 MB with a libvips resize (estimate
 * 392 MB), 521 MB with nearest (539 MB); a progressive JPEG 282 MB (294 MB); a GIF 222 MB (196 MB).
 * An image over `maxPixels` is refused from its header by the decoder (0); bytes whose header this
 * cannot read, the most an image within `maxPixels` can take (16-bit RGBA), so they decode alone.
 */
export function imageDecodeBytes(image: Buffer, plan: ResizePlan, maxPixels: number): number {
  let header;
  try {
    header = readImageHeader(image);
  } catch (err) {
    if (!(err instanceof ImageHeaderError)) throw err;
  }
  const copy = plan.interpolation === 'nearest' ? NEAREST_COPY_BYTES_PER_PIXEL : 0;
  if (!header) return maxPixels * (8 + copy);
  const pixels = header.width * header.height;
  return pixels > maxPixels ? 0 : decodedBytes(header) + pixels * copy;
}

/**
 * Decodes, orients and resizes an image to exactly plan.width × plan.height RGB pixels.
 * Alpha is flattened onto white (transparent PNG logos would otherwise turn black); greyscale becomes RGB.
 */
export async function decodeRgb(input: string | Buffer, plan: ResizePlan, maxPixels: number): Promise<RgbPixels> {
  try {
    const decoder = sharp(input, { limitInputPixels: maxPixels, failOn: 'error', ignoreIcc: true }).rotate().flatten({ background: '#ffffff' }).toColourspace('srgb');
    const { interpolation } = plan;
    if (plan.mode === 'stretch' && interpolation !== 'nearest') {
      const { data, info } = await rgb(decoder.resize(plan.width, plan.height, { fit: 'fill', kernel: KERNEL[interpolation] }));
      return { data, width: info.width, height: info.height };
    }
    const meta = await sharp(input, { limitInputPixels: maxPixels }).metadata();
    const [w, h] = (meta.orientation ?? 1) >= 5 ? [meta.height!, meta.width!] : [meta.width!, meta.height!];
    const target = resizeTarget(plan, w, h);
    if (interpolation === 'nearest' || interpolation === 'bilinear') return await resizeLikePil(decoder, interpolation, w, h, target);
    const { data, info } = await rgb(decoder.resize(target.width, target.height, { fit: 'fill', kernel: KERNEL[interpolation] }).extract(target.window));
    return { data, width: info.width, height: info.height };
  } catch (err) {
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) throw new ImageTooLargeError(msg);
    // libvips ends some messages with a colon and a newline where no more was said ("Input buffer has corrupt header:").
    throw new ImageDecodeError(msg.trim().replace(/\s*:$/, ''));
  }
}

async function resizeLikePil(decoder: Sharp, interpolation: 'nearest' | 'bilinear', w: number, h: number, target: ResizeTarget): Promise<RgbPixels> {
  // Nearest picks source pixels, so it needs every one of them; bilinear may start from a pre-reduced image.
  const pre = interpolation === 'bilinear' ? preReduceSize(w, h, target) : undefined;
  const { data, info } = await rgb(pre ? decoder.resize(pre.width, pre.height, { fit: 'fill', kernel: 'linear' }) : decoder);
  // A plain Uint8Array view: V8 optimizes the resize loops for it, not for Buffer (measured 2× slower).
  const src = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  const resize = interpolation === 'nearest' ? resizeNearestPil : resizeBilinearPil;
  const out = resize(src, target.width, target.height, target.window);
  return { data: Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength), width: out.width, height: out.height };
}

async function rgb(pipeline: Sharp): Promise<{ data: Buffer; info: OutputInfo }> {
  const result = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (result.info.channels !== 3) throw new Error(`decoded to ${result.info.channels} channels, expected 3`);
  return result;
}
