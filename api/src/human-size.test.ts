import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatMegabytes } from './human-size.ts';

it('sizes under 1 MB read in KB, so a 240,512-byte upload and a 200,000-byte limit do not both read "0.2 MB"', () => {
  assert.equal(formatMegabytes(240_512), '235 KB');
  assert.equal(formatMegabytes(200_000), '195 KB');
  assert.equal(formatMegabytes(100), '1 KB');
  assert.equal(formatMegabytes(1024 * 1024), '1 MB');
  assert.equal(formatMegabytes(20 * 1024 * 1024), '20 MB');
  assert.equal(formatMegabytes(26_529_792), '25.3 MB');
});
