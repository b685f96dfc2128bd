import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFileReadBar } from './file-read-bar.ts';
import type { FileReadProgress } from '../import/model-import.ts';

const MiB = 1024 * 1024;
const read = (bytesDone: number, seconds: number, finished = false): FileReadProgress => ({
  name: 'my-model',
  file: '/data/weights.h5',
  bytesDone,
  bytesTotal: 8 * MiB,
  seconds,
  finished,
});

function recorder(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (text: string) => out.push(text) } };
}

test('a terminal gets a "reading" bar for a long read, then one line saying what was read', () => {
  const { out, stream } = recorder(true);
  let now = 0;
  const bar = createFileReadBar(stream, () => now);
  bar.update(read(0, 0.1)); // too early: a quick read would only flicker
  assert.deepEqual(out, []);
  now = 1000;
  bar.update(read(4 * MiB, 1));
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^\rmy-model: reading weights\.h5 \[#+-+\] +50% +4\.00 MiB\/8\.00 MiB +4\.00 MiB\/s +ETA 0:01\x1b\[K$/);
  bar.update(read(8 * MiB, 2, true));
  assert.equal(out[1], '\rmy-model: read weights.h5 (8.00 MiB) in 2.0 s\x1b[K\n');
  assert.doesNotMatch(out.join(''), /done|download/);
});

test('logs get only the line saying what was read, and a quick read on a terminal too', () => {
  for (const isTTY of [false, true]) {
    const { out, stream } = recorder(isTTY);
    const bar = createFileReadBar(stream, () => 0);
    bar.update(read(0, 0));
    bar.update(read(4 * MiB, isTTY ? 0.2 : 1));
    bar.update(read(8 * MiB, isTTY ? 0.3 : 2, true));
    bar.finish();
    assert.deepEqual(out, [`my-model: read weights.h5 (8.00 MiB) in ${isTTY ? '0.3' : '2.0'} s\n`]);
  }
});

test('a read that stops midway ends the bar line, so an error starts on its own line', () => {
  const { out, stream } = recorder(true);
  const bar = createFileReadBar(stream, () => 0);
  bar.update(read(MiB, 1));
  bar.finish();
  bar.finish();
  assert.equal(out.at(-1), '\n');
  assert.equal(out.length, 2);
});
