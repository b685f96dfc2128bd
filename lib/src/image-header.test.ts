import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { lyingGif } from '../../tests/helpers/hostile-corpus.ts';
import { ImageHeaderError, readImageHeader, SIGNATURE_BYTES, sniffImage } from './image-header.ts';

const IMAGES = fileURLToPath(new URL('../../tests/fixtures/images/', import.meta.url));
const red = () => sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 255, g: 0, b: 0 } } });
/** Only the first SIGNATURE_BYTES bytes, as the upload store reads them. */
const head = (b: Buffer) => b.subarray(0, SIGNATURE_BYTES);

/** A complete 1×1 GIF87a written by hand (sharp writes GIF89a). */
const GIF87A = Buffer.from([
  0x47, 0x49, 0x46, 0x38, 0x37, 0x61, // "GIF87a"
  0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, // 1×1, global colour table of 2
  0x00, 0x00, 0x00, 0xff, 0xff, 0xff, // black, white
  0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, // image descriptor
  0x02, 0x02, 0x44, 0x01, 0x00, // LZW data
  0x3b, // trailer
]);

describe('sniffImage', () => {
  test('PNG, JPEG, GIF89a and WebP made by sharp', async () => {
    assert.equal(sniffImage(head(await red().png().toBuffer())), 'png');
    assert.equal(sniffImage(head(await red().jpeg().toBuffer())), 'jpeg');
    const gif = await red().gif().toBuffer();
    assert.equal(gif.subarray(0, 6).toString('latin1'), 'GIF89a');
    assert.equal(sniffImage(head(gif)), 'gif');
    const webp = await red().webp().toBuffer();
    assert.equal(sniffImage(head(webp)), 'webp');
    assert.equal(sniffImage(await red().webp({ lossless: true }).toBuffer()), 'webp');
  });

  test('GIF87a', async () => {
    assert.equal((await sharp(GIF87A).metadata()).format, 'gif', 'the hand-made GIF87a is a real image');
    assert.equal(sniffImage(head(GIF87A)), 'gif');
  });

  test('the photo fixtures', async () => {
    assert.equal(sniffImage(head(await readFile(join(IMAGES, 'chelsea.png')))), 'png');
    assert.equal(sniffImage(head(await readFile(join(IMAGES, 'rocket.jpg')))), 'jpeg');
    // truncated.jpg keeps a valid start: the signature alone cannot tell (the decode does)
    assert.equal(sniffImage(head(await readFile(join(IMAGES, 'truncated.jpg')))), 'jpeg');
  });

  test('rejects text, PDF, empty input and near misses', async () => {
    assert.equal(sniffImage(Buffer.from('hello, this is plain text')), undefined);
    assert.equal(sniffImage(await readFile(join(IMAGES, 'corrupt.jpg'))), undefined);
    assert.equal(sniffImage(Buffer.from('%PDF-1.7\n%âãÏÓ\n')), undefined);
    assert.equal(sniffImage(Buffer.alloc(0)), undefined);
    assert.equal(sniffImage(new Uint8Array(SIGNATURE_BYTES)), undefined); // zeros
    assert.equal(sniffImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a])), undefined); // PNG cut at 7 bytes
    assert.equal(sniffImage(Buffer.from([0xff, 0xd8])), undefined); // JPEG SOI without a marker
    assert.equal(sniffImage(Buffer.from('GIF88a')), undefined);
    assert.equal(sniffImage(Buffer.from('GIF8')), undefined);
    assert.equal(sniffImage(Buffer.from('RIFF\x24\x00\x00\x00WAVE', 'latin1')), undefined); // a WAV file
    assert.equal(sniffImage(Buffer.from('RIFF\x24\x00\x00\x00WEB', 'latin1')), undefined); // cut short
  });
});

describe('readImageHeader', () => {
  const sized = (w: number, h: number, alpha = false) =>
    sharp({ create: { width: w, height: h, channels: alpha ? 4 : 3, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } });

  test('agrees with sharp on every format and variant the api accepts', async () => {
    const cases: [string, Buffer][] = [
      ['png', await sized(451, 300).png().toBuffer()],
      ['jpeg baseline', await sized(641, 427).jpeg().toBuffer()],
      ['jpeg progressive', await sized(1000, 17).jpeg({ progressive: true }).toBuffer()],
      ['jpeg with EXIF and an ICC profile', await sized(300, 200).jpeg().withMetadata({ orientation: 6 }).toBuffer()],
      ['gif', await sized(7, 5).gif().toBuffer()],
      ['webp lossy (VP8)', await sized(333, 222).webp().toBuffer()],
      ['webp lossless (VP8L)', await sized(16383, 3).webp({ lossless: true }).toBuffer()],
      ['webp with alpha (VP8X)', await sized(40, 30, true).webp({ lossless: false, alphaQuality: 50 }).toBuffer()],
      ['chelsea.png', await readFile(join(IMAGES, 'chelsea.png'))],
      ['rocket.jpg', await readFile(join(IMAGES, 'rocket.jpg'))],
      ['truncated.jpg (header intact)', await readFile(join(IMAGES, 'truncated.jpg'))],
    ];
    for (const [what, bytes] of cases) {
      const meta = await sharp(bytes).metadata();
      // What libvips holds per pixel of a whole decoded image (a progressive JPEG: its coefficients, 2 bytes a sample).
      const bytesPerPixel =
        meta.format === 'gif' || meta.format === 'webp' ? 4 : meta.channels * (meta.depth === 'ushort' ? 2 : 1) * (meta.format === 'jpeg' && meta.isProgressive ? 2 : 1);
      assert.deepEqual(readImageHeader(bytes), { format: meta.format, width: meta.width, height: meta.height, bytesPerPixel }, what);
    }
  });

  test('bytes per pixel: 16-bit PNG samples count twice, a palette as RGBA, a grey JPEG once', async () => {
    const png16 = await sized(5, 4, true).png().toColourspace('rgb16').toBuffer();
    assert.equal(readImageHeader(png16)?.bytesPerPixel, 8);
    const palette = await sized(5, 4).png({ palette: true }).toBuffer();
    assert.equal(readImageHeader(palette)?.bytesPerPixel, 4);
    const grey = await sized(5, 4).toColourspace('b-w').jpeg().toBuffer();
    assert.equal(readImageHeader(grey)?.bytesPerPixel, 1);
    const greyProgressive = await sized(5, 4).toColourspace('b-w').jpeg({ progressive: true }).toBuffer();
    assert.equal(readImageHeader(greyProgressive)?.bytesPerPixel, 2);
  });

  test('GIF87a written by hand', () => {
    assert.deepEqual(readImageHeader(GIF87A), { format: 'gif', width: 1, height: 1, bytesPerPixel: 4 });
  });

  test('not an image → undefined; an image header cut short → ImageHeaderError', async () => {
    assert.equal(readImageHeader(Buffer.from('%PDF-1.7\n')), undefined);
    assert.equal(readImageHeader(Buffer.alloc(0)), undefined);
    const jpeg = await readFile(join(IMAGES, 'rocket.jpg'));
    assert.throws(() => readImageHeader(jpeg.subarray(0, 20)), ImageHeaderError);
    const png = await sized(4, 4).png().toBuffer();
    assert.throws(() => readImageHeader(png.subarray(0, 20)), /PNG header is damaged or incomplete/);
  });

  test('GIF: the first frame counts, not only the logical screen (which can lie)', async () => {
    assert.deepEqual(readImageHeader(lyingGif(10_000, 10_000)), { format: 'gif', width: 10_000, height: 10_000, bytesPerPixel: 4 });
    // A frame placed at an offset extends the canvas too; extensions before it are skipped.
    const animated = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#f00' } }).gif({ loop: 0 }).toBuffer();
    assert.deepEqual(readImageHeader(animated), { format: 'gif', width: 30, height: 20, bytesPerPixel: 4 });
    assert.throws(() => readImageHeader(lyingGif(10, 10).subarray(0, 16)), ImageHeaderError, 'a frame descriptor cut short');
  });
});
