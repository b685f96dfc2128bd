import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resizeBilinearPil, resizeNearestPil, roundHalfEven, shorterSideCrop, type Rgb8 } from './pil-resize.ts';

/** 7×5 RGB test pattern: value = (37x + 91y + 53c + 13xy) mod 256, rough enough to expose any grid shift. */
function pattern(): Rgb8 {
  const data = new Uint8Array(7 * 5 * 3);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 3; c++) data[(y * 7 + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + x * y * 13) % 256;
  return { data, width: 7, height: 5 };
}

// Expected values printed by Pillow 9.4 (Debian 12) for the same pattern:
// Image.fromarray(a).resize(size, Image.NEAREST | Image.BILINEAR), and .crop((2, 1, 8, 6)) of the 10×8 resize.
const NEAREST_3X4 = [37, 90, 143, 111, 164, 217, 185, 238, 35, 141, 194, 247, 241, 38, 91, 85, 138, 191, 93, 146, 199, 245, 42, 95, 141, 194, 247, 197, 250, 47, 119, 172, 225, 41, 94, 147];
const BILINEAR_12X9 = [0, 53, 106, 14, 67, 120, 35, 88, 141, 57, 110, 163, 79, 132, 185, 100, 153, 206, 122, 175, 228, 143, 196, 249, 165, 218, 154, 187, 229, 37, 208, 101, 58, 222, 19, 72, 30, 83, 136, 46, 99, 152, 70, 123, 176, 94, 147, 154, 118, 161, 139, 142, 135, 163, 142, 134, 187, 116, 158, 211, 129, 182, 157, 154, 199, 89, 177, 124, 113, 193, 75, 128, 81, 134, 187, 99, 152, 205, 127, 180, 233, 156, 209, 138, 184, 208, 62, 212, 104, 90, 174, 67, 120, 70, 95, 148, 70, 123, 163, 98, 150, 176, 126, 161, 204, 145, 169, 222, 131, 184, 124, 153, 163, 145, 185, 129, 177, 156, 157, 132, 136, 171, 100, 169, 121, 132, 160, 112, 132, 109, 145, 98, 124, 125, 116, 152, 96, 149, 118, 128, 181, 96, 149, 202, 182, 235, 32, 206, 163, 56, 242, 50, 92, 140, 76, 129, 60, 113, 166, 97, 150, 203, 133, 186, 165, 170, 223, 52, 207, 143, 57, 233, 41, 94, 120, 77, 130, 48, 101, 154, 90, 143, 83, 117, 127, 109, 158, 102, 150, 137, 138, 113, 126, 161, 90, 167, 119, 131, 166, 118, 138, 124, 160, 113, 148, 149, 140, 184, 122, 175, 158, 80, 133, 142, 53, 106, 27, 80, 133, 57, 110, 152, 101, 154, 180, 131, 184, 100, 164, 188, 42, 209, 101, 87, 187, 71, 124, 100, 100, 153, 103, 141, 194, 133, 176, 229, 179, 90, 143, 207, 33, 86, 78, 131, 184, 109, 162, 151, 159, 212, 101, 116, 169, 97, 87, 129, 108, 136, 129, 157, 161, 103, 156, 161, 54, 107, 121, 82, 135, 78, 127, 180, 128, 127, 180, 159, 127, 180, 108, 161, 214, 141, 194, 151, 193, 246, 54, 107, 160, 95, 41, 94, 147, 93, 146, 199, 145, 123, 176, 197, 26, 79, 131, 46, 99, 45, 98, 151, 97, 150, 203, 130, 183, 236];
const BILINEAR_3X2 = [110, 138, 145, 141, 138, 146, 141, 136, 142, 122, 150, 122, 145, 123, 131, 137, 110, 151];
const BILINEAR_10X8_WINDOW = [93, 146, 171, 123, 176, 122, 153, 133, 147, 144, 124, 177, 101, 154, 199, 131, 184, 129, 157, 198, 191, 181, 233, 58, 216, 112, 82, 167, 63, 111, 46, 98, 136, 83, 124, 173, 184, 105, 138, 102, 146, 123, 134, 135, 160, 147, 148, 139, 136, 180, 66, 178, 99, 108, 170, 91, 124, 94, 138, 115, 132, 133, 158, 151, 152, 143, 146, 190, 76, 193, 114, 123, 117, 158, 151, 159, 211, 36, 210, 108, 76, 179, 77, 124, 76, 128, 166, 128, 169, 218];

describe('Pillow-exact resizing', () => {
  test('nearest picks the pixels Pillow picks', () => {
    const out = resizeNearestPil(pattern(), 3, 4);
    assert.deepEqual([out.width, out.height], [3, 4]);
    assert.deepEqual(Array.from(out.data), NEAREST_3X4);
  });

  test('bilinear enlarging matches Pillow on every byte (libvips puts the grid ~0.44 px off here)', () => {
    assert.deepEqual(Array.from(resizeBilinearPil(pattern(), 12, 9).data), BILINEAR_12X9);
  });

  test('bilinear shrinking uses Pillow\'s widened (antialiasing) triangle filter', () => {
    assert.deepEqual(Array.from(resizeBilinearPil(pattern(), 3, 2).data), BILINEAR_3X2);
  });

  test('a window of the resize equals the same crop of the whole resize', () => {
    const out = resizeBilinearPil(pattern(), 10, 8, { left: 2, top: 1, width: 6, height: 5 });
    assert.deepEqual([out.width, out.height], [6, 5]);
    assert.deepEqual(Array.from(out.data), BILINEAR_10X8_WINDOW);
  });

  test('same size is a copy', () => {
    const src = pattern();
    assert.deepEqual(resizeBilinearPil(src, 7, 5).data, src.data);
    assert.deepEqual(resizeNearestPil(src, 7, 5).data, src.data);
  });

  test('Python rounding: halves go to the even neighbour', () => {
    assert.deepEqual([464.5, 465.5, 385.5, 2.5, 3.5, 304.8, 341.33].map(roundHalfEven), [464, 466, 386, 2, 4, 305, 341]);
  });

  test('shorter side 256 then centre 224: parrot.jpg\'s 512×929 becomes 256×464 (not 465), crop at (16, 120)', () => {
    assert.deepEqual(shorterSideCrop(512, 929, 256, 224, 224), { width: 256, height: 464, window: { left: 16, top: 120, width: 224, height: 224 } });
    // cat_720p.jpg 1280×720 → 455×256; (455 − 224) / 2 = 115.5 rounds to 116, as torchvision's CenterCrop does
    assert.deepEqual(shorterSideCrop(1280, 720, 256, 224, 224).window.left, 116);
    // small images are enlarged: 224×224 → 256×256
    assert.deepEqual(shorterSideCrop(224, 224, 256, 224, 224), { width: 256, height: 256, window: { left: 16, top: 16, width: 224, height: 224 } });
  });
});
