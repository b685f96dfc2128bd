import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED_EXTENSIONS, STORED_NAME, allowedExtension, allowedFile } from './allowed-file.ts';

describe('allowedFile (the original service contract)', () => {
  for (const name of ['cat.JPG', '../../car.PNG', '/usr/var/src/car.gif']) {
    test(`accepts ${name}`, () => assert.equal(allowedFile(name), true));
  }
  for (const name of ['cat.JPGG', 'invoice.pdf', '/usr/src/api', '/usr/src/api/', '/usr/src/dog.', '/usr/src/dog./']) {
    test(`refuses ${name}`, () => assert.equal(allowedFile(name), false));
  }

  test('webp is accepted too, any case', () => {
    assert.equal(allowedFile('photo.webp'), true);
    assert.equal(allowedFile('photo.WebP'), true);
  });

  test('the extension comes back lower-cased, from the last dot', () => {
    assert.equal(allowedExtension('cat.JPG'), 'jpg');
    assert.equal(allowedExtension('../../car.PNG'), 'png');
    assert.equal(allowedExtension('/usr/var/src/car.gif'), 'gif');
    assert.equal(allowedExtension('a.tar.JPEG'), 'jpeg');
    assert.equal(allowedExtension('x.webp'), 'webp');
    assert.equal(allowedExtension('image.png.exe'), undefined);
    assert.equal(allowedExtension('png'), undefined);
    assert.equal(allowedExtension(''), undefined);
    assert.deepEqual([...ALLOWED_EXTENSIONS], ['png', 'jpg', 'jpeg', 'gif', 'webp']);
  });
});

describe('STORED_NAME', () => {
  const md5 = '0a7c757a80f2c5b13fa7a2a47a683593';
  test('accepts <lowercase md5>.<allowed ext>', () => {
    for (const ext of ['jpeg', 'jpg', 'png', 'gif', 'webp']) assert.match(`${md5}.${ext}`, STORED_NAME);
  });
  test('rejects traversal, uppercase hex, other lengths and extensions', () => {
    for (const bad of [
      `../${md5}.jpeg`,
      `..%2f${md5}.jpeg`,
      `/etc/${md5}.jpeg`,
      `uploads/${md5}.jpeg`,
      `${md5}.jpeg/`,
      `${md5}.jpeg/../../etc/passwd`,
      md5.toUpperCase() + '.jpeg',
      '0A7c757a80f2c5b13fa7a2a47a683593.jpeg',
      `${md5.slice(1)}.jpeg`, // 31 hex digits
      `${md5}0.jpeg`, // 33
      `${md5.slice(0, 31)}g.jpeg`, // not hex
      `${md5}.pdf`,
      `${md5}.JPEG`,
      `${md5}.jpeg.exe`,
      `${md5}.jpeg\n`,
      `${md5}`,
      `${md5}.`,
      '',
    ]) {
      assert.doesNotMatch(bad, STORED_NAME, JSON.stringify(bad));
    }
  });
});
