/**
 * Image decoding and resizing, on sharp. The only module that imports sharp.
 * Workers use `decodeRgb` to get the pixels a model needs, with EXIF orientation applied and JPEG
 * shrink-on-load for large photos. (The api checks uploads without decoding: api/src/upload/image-header.ts.)
 */
import sharp, { type KernelEnum } from 'sharp';

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

const KERNEL: Record<Interpolation, keyof KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
};

/**
 * Decodes, orients and resizes an image to exactly plan.width × plan.height RGB pixels.
 * Alpha is flattened onto white (transparent PNG logos would otherwise turn black); greyscale becomes RGB.
 */
export async function decodeRgb(input: string | Buffer, plan: ResizePlan, maxPixels: number): Promise<RgbPixels> {
  try {
    const kernel = KERNEL[plan.interpolation];
    let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
    if (plan.mode === 'stretch') {
      pipeline = pipeline.resize(plan.width, plan.height, { fit: 'fill', kernel });
    } else {
      const meta = await sharp(input, { limitInputPixels: maxPixels }).metadata();
      const [w, h] = (meta.orientation ?? 1) >= 5 ? [meta.height!, meta.width!] : [meta.width!, meta.height!];
      const scale = plan.shorterSide / Math.min(w, h);
      const rw = Math.max(plan.width, Math.round(w * scale));
      const rh = Math.max(plan.height, Math.round(h * scale));
      pipeline = pipeline
        .resize(rw, rh, { fit: 'fill', kernel })
        .extract({ left: Math.floor((rw - plan.width) / 2), top: Math.floor((rh - plan.height) / 2), width: plan.width, height: plan.height });
    }
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) throw new ImageTooLargeError(msg);
    throw new ImageDecodeError(msg);
  }
}
