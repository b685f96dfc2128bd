import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeRgb, ImageDecodeError, ImageTooLargeError, type ResizePlan, type RgbPixels } from './image.ts';

const IMAGES = fileURLToPath(new URL('../../../tests/fixtures/images/', import.meta.url));

type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const WHITE: Rgb = [255, 255, 255];

/** Raw interleaved RGB made by a per-pixel function. */
function rawRgb(w: number, h: number, f: (x: number, y: number) => Rgb): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), (y * w + x) * 3);
  return b;
}
const png = (w: number, h: number, f: (x: number, y: number) => Rgb) =>
  sharp(rawRgb(w, h, f), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();

const pixel = (px: RgbPixels, x: number, y: number): Rgb => {
  const i = (y * px.width + x) * 3;
  return [px.data[i]!, px.data[i + 1]!, px.data[i + 2]!];
};
/** Within `tol` of the expected colour on every channel (JPEG and bilinear blur edges a little). */
const near = (got: Rgb, want: Rgb, tol: number, where: string) =>
  assert.ok(
    got.every((v, c) => Math.abs(v - want[c]!) <= tol),
    `${where}: got ${got.join(',')}, expected about ${want.join(',')}`,
  );

/** The JPEG without its ICC profile: every APP2 segment that starts "ICC_PROFILE" is cut out. */
function withoutIccSegments(jpeg: Buffer): Buffer {
  const kept: Buffer[] = [jpeg.subarray(0, 2)];
  let at = 2;
  // Marker segments up to the start of scan; what follows is entropy-coded data, kept as it is.
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff && jpeg[at + 1] !== 0xda) {
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    const isIcc = jpeg[at + 1] === 0xe2 && jpeg.toString('latin1', at + 4, at + 15) === 'ICC_PROFILE';
    if (!isIcc) kept.push(jpeg.subarray(at, end));
    at = end;
  }
  kept.push(jpeg.subarray(at));
  return Buffer.concat(kept);
}

const plan = (p: Partial<ResizePlan>): ResizePlan => ({
  width: 10,
  height: 10,
  mode: 'stretch',
  shorterSide: 10,
  interpolation: 'nearest',
  ...p,
});

/** 60×20, left/centre/right thirds red/green/blue (columns 0-19, 20-39, 40-59). */
const wideBands = () => png(60, 20, (x) => (x < 20 ? RED : x < 40 ? GREEN : BLUE));
/** 20×60, top/middle/bottom thirds red/green/blue. */
const tallBands = () => png(20, 60, (_x, y) => (y < 20 ? RED : y < 40 ? GREEN : BLUE));

describe('decodeRgb', () => {
  test('stretch gives exactly width × height RGB pixels, ignoring the aspect ratio', async () => {
    const px = await decodeRgb(await wideBands(), plan({ width: 7, height: 5, mode: 'stretch' }), 10_000);
    assert.equal(px.width, 7);
    assert.equal(px.height, 5);
    assert.equal(px.data.length, 7 * 5 * 3);
    // 60 columns onto 7: the whole width is kept, so the left edge is red and the right edge blue
    assert.deepEqual(pixel(px, 0, 2), RED);
    assert.deepEqual(pixel(px, 3, 2), GREEN);
    assert.deepEqual(pixel(px, 6, 2), BLUE);
  });

  test('crop mode on a wide image: shorter side 20 → 10 (60×20 → 30×10), centre 10×10 is all green', async () => {
    // after the resize, green occupies columns 10-19 of 30; the crop starts at (30 - 10)/2 = 10
    const px = await decodeRgb(await wideBands(), plan({ mode: 'shorter-side-then-center-crop', shorterSide: 10 }), 10_000);
    assert.equal(px.width, 10);
    assert.equal(px.height, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.deepEqual(pixel(px, x, y), GREEN, `(${x},${y})`);
  });

  test('crop mode with bilinear interpolation: the inside of the crop is green', async () => {
    const px = await decodeRgb(
      await wideBands(),
      plan({ mode: 'shorter-side-then-center-crop', shorterSide: 10, interpolation: 'bilinear' }),
      10_000,
    );
    assert.equal(px.data.length, 10 * 10 * 3);
    for (let y = 0; y < 10; y++) for (let x = 1; x < 9; x++) near(pixel(px, x, y), GREEN, 40, `(${x},${y})`);
  });

  test('crop mode on a tall image: 20×60 → 10×30, centre rows 10-19 are green', async () => {
    const px = await decodeRgb(await tallBands(), plan({ mode: 'shorter-side-then-center-crop', shorterSide: 10 }), 10_000);
    assert.equal(px.width, 10);
    assert.equal(px.height, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.deepEqual(pixel(px, x, y), GREEN, `(${x},${y})`);
  });

  test('crop mode with a shorter side larger than the crop: no resize of 60×20, centre 10×10 from (25,5)', async () => {
    // columns 25-34 are inside the green band 20-39
    const px = await decodeRgb(await wideBands(), plan({ mode: 'shorter-side-then-center-crop', shorterSide: 20 }), 10_000);
    assert.equal(px.width, 10);
    assert.equal(px.height, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.deepEqual(pixel(px, x, y), GREEN, `(${x},${y})`);
  });

  test('a non-square crop keeps width and height apart', async () => {
    // 60×20 → shorter side 10 → 30×10; crop 6 wide × 4 high from ((30-6)/2, (10-4)/2) = (12, 3): green
    const px = await decodeRgb(await wideBands(), plan({ mode: 'shorter-side-then-center-crop', width: 6, height: 4, shorterSide: 10 }), 10_000);
    assert.equal(px.width, 6);
    assert.equal(px.height, 4);
    assert.equal(px.data.length, 6 * 4 * 3);
    assert.deepEqual(pixel(px, 0, 0), GREEN);
    assert.deepEqual(pixel(px, 5, 3), GREEN);
  });

  describe('EXIF orientation 6 (stored 60×20, shown rotated 90° clockwise as 20×60)', () => {
    // stored left third red → shown on top; right third blue → shown at the bottom
    const jpeg = async () => {
      const buf = await sharp(rawRgb(60, 20, (x) => (x < 20 ? RED : x < 40 ? GREEN : BLUE)), { raw: { width: 60, height: 20, channels: 3 } })
        .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        .withMetadata({ orientation: 6 })
        .toBuffer();
      const meta = await sharp(buf).metadata();
      assert.equal(meta.orientation, 6, 'the test image carries the orientation tag');
      assert.equal(meta.width, 60);
      return buf;
    };

    test('stretch: the top is red and the bottom blue', async () => {
      const px = await decodeRgb(await jpeg(), plan({ width: 10, height: 30, mode: 'stretch' }), 10_000);
      assert.equal(px.width, 10);
      assert.equal(px.height, 30);
      // unrotated, the 60×20 bands would run left to right instead
      near(pixel(px, 0, 2), RED, 40, 'top left');
      near(pixel(px, 9, 2), RED, 40, 'top right');
      near(pixel(px, 5, 15), GREEN, 40, 'middle');
      near(pixel(px, 0, 27), BLUE, 40, 'bottom left');
      near(pixel(px, 9, 27), BLUE, 40, 'bottom right');
    });

    test('crop: sizes are computed on the rotated 20×60, so the centre crop is green', async () => {
      // 20×60 → shorter side 10 → 10×30 → crop rows 10-19 = the green band
      const px = await decodeRgb(await jpeg(), plan({ mode: 'shorter-side-then-center-crop', shorterSide: 10, interpolation: 'bilinear' }), 10_000);
      assert.equal(px.width, 10);
      assert.equal(px.height, 10);
      for (let y = 1; y < 9; y++) for (let x = 0; x < 10; x++) near(pixel(px, x, y), GREEN, 40, `(${x},${y})`);
    });
  });

  test('transparent pixels are flattened onto white', async () => {
    // 2×2 RGBA: opaque red, transparent blue, transparent black, green at alpha 128
    const rgba = Buffer.from([255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 0, 128]);
    const input = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const px = await decodeRgb(input, plan({ width: 2, height: 2 }), 100);
    assert.equal(px.data.length, 2 * 2 * 3);
    assert.deepEqual(pixel(px, 0, 0), RED);
    assert.deepEqual(pixel(px, 1, 0), WHITE);
    assert.deepEqual(pixel(px, 0, 1), WHITE);
    // alpha a = 128/255: R = B = 0·a + 255·(1 − a) = 255·127/255 = 127; G = 255·a + 255·(1 − a) = 255
    near(pixel(px, 1, 1), [127, 255, 127], 1, 'half transparent green');
  });

  test('greyscale input gives three equal channels', async () => {
    const grey = await sharp(Buffer.from([0, 50, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    assert.equal((await sharp(grey).metadata()).channels, 1, 'the test image is single-channel');
    const px = await decodeRgb(grey, plan({ width: 2, height: 2 }), 100);
    assert.deepEqual([...px.data], [0, 0, 0, 50, 50, 50, 200, 200, 200, 255, 255, 255]);
  });

  test('more pixels than allowed → ImageTooLargeError, in both modes', async () => {
    const img = await wideBands(); // 60 × 20 = 1200 pixels
    await assert.rejects(decodeRgb(img, plan({}), 1199), ImageTooLargeError);
    await assert.rejects(decodeRgb(img, plan({ mode: 'shorter-side-then-center-crop' }), 1199), ImageTooLargeError);
    const px = await decodeRgb(img, plan({}), 1200); // exactly at the limit is fine
    assert.equal(px.width, 10);
  });

  test('corrupt bytes → ImageDecodeError', async () => {
    await assert.rejects(decodeRgb(Buffer.from('this is not an image at all'), plan({}), 1e6), ImageDecodeError);
    await assert.rejects(decodeRgb(join(IMAGES, 'corrupt.jpg'), plan({}), 1e6), ImageDecodeError);
    await assert.rejects(decodeRgb(join(IMAGES, 'truncated.jpg'), plan({}), 1e6), ImageDecodeError);
    // A PNG signature and nothing after: libvips says "Input buffer has corrupt header:" and stops there.
    await assert.rejects(decodeRgb(Buffer.from('89504e470d0a1a0a', 'hex'), plan({}), 1e6), (err: Error) => {
      assert.ok(err instanceof ImageDecodeError);
      assert.doesNotMatch(err.message, /:\s*$/, 'no colon left hanging');
      return true;
    });
    await assert.rejects(
      decodeRgb(join(IMAGES, 'truncated.jpg'), plan({ mode: 'shorter-side-then-center-crop' }), 1e6),
      ImageDecodeError,
    );
  });

  test('an embedded colour profile is ignored, as Pillow ignores it: the pixels are those stored', async () => {
    // rocket.jpg is tagged Adobe RGB (1998); applying that profile moved its pixels by up to 30 levels.
    const tagged = await readFile(join(IMAGES, 'rocket.jpg'));
    const untagged = withoutIccSegments(tagged);
    assert.ok((await sharp(tagged).metadata()).icc, 'the fixture carries a profile');
    assert.equal((await sharp(untagged).metadata()).icc, undefined, 'the stripped copy carries none');
    const plans: ResizePlan[] = [
      plan({ width: 224, height: 224, mode: 'stretch', interpolation: 'bilinear' }),
      plan({ width: 224, height: 224, mode: 'shorter-side-then-center-crop', shorterSide: 256, interpolation: 'bilinear' }),
      plan({ width: 224, height: 224, mode: 'stretch', interpolation: 'nearest' }),
    ];
    for (const p of plans) {
      const [a, b] = await Promise.all([decodeRgb(tagged, p, 1e6), decodeRgb(untagged, p, 1e6)]);
      assert.ok(a.data.equals(b.data), `${p.mode} ${p.interpolation}: the profile changed the pixels`);
    }
  });

  test('a real photo from a path', async () => {
    const px = await decodeRgb(join(IMAGES, 'chelsea.png'), plan({ width: 32, height: 24, mode: 'stretch', interpolation: 'bilinear' }), 1e6);
    assert.equal(px.width, 32);
    assert.equal(px.height, 24);
    assert.equal(px.data.length, 32 * 24 * 3);
  });
});

