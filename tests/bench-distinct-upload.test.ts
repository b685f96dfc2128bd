/**
 * The bench's distinct uploads: every request a different file (so the result cache cannot answer
 * it), the same pixels (so the model does the same work), still a valid image for the api's checks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { DistinctUploads, markerFor } from '@icls/bench/distinct-upload';
import { readImageHeader } from '@icls/lib/image-header';
import { image } from './helpers/fixtures.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const pixels = async (b: Buffer) => (await sharp(b, { failOn: 'error' }).raw().toBuffer()).toString('base64');

describe('bench: distinct uploads of the same image', () => {
  for (const name of ['rocket.jpg', 'chelsea.png']) {
    test(`${name}: each upload has another MD5 and the same pixels and header`, async () => {
      const bytes = await readFile(image(name));
      const marker = markerFor(bytes);
      assert.ok(marker, 'JPEG and PNG can be marked');
      const uploads = new DistinctUploads();
      const a = Buffer.concat(uploads.chunks(bytes, marker));
      const b = Buffer.concat(uploads.chunks(bytes, marker));
      assert.equal(new Set([md5(bytes), md5(a), md5(b)]).size, 3);
      assert.equal(await pixels(a), await pixels(bytes));
      assert.deepEqual(readImageHeader(a), readImageHeader(bytes));
    });
  }

  test('a format without a marker is sent as it is', () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    assert.equal(markerFor(gif), undefined);
    assert.deepEqual(new DistinctUploads().chunks(gif, undefined), [gif]);
  });
});
