import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgressBar, renderBarLine, renderPlainLine } from './progress-bar.ts';
import { formatBytes, formatDuration } from './format-units.ts';
import type { DownloadProgress } from './download.ts';

const MiB = 1024 * 1024;
const at = (bytesDone: number, extra: Partial<DownloadProgress> = {}): DownloadProgress => ({
  url: 'http://127.0.0.1/x',
  bytesDone,
  bytesTotal: 10 * MiB,
  bytesPerSecond: 2 * MiB,
  etaSeconds: (10 * MiB - bytesDone) / (2 * MiB),
  attempt: 1,
  finished: false,
  ...extra,
});

function recorder(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (text: string) => out.push(text) } };
}

describe('progress bar', () => {
  test('units read like ls -lh', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(3655033), '3.49 MiB');
    assert.equal(formatBytes(102576419), '97.8 MiB');
    assert.equal(formatDuration(7), '0:07');
    assert.equal(formatDuration(3723), '1:02:03');
    assert.equal(formatDuration(undefined), '--:--');
  });

  test('a bar line shows percent, amounts, rate and ETA within the width', () => {
    const line = renderBarLine('model', at(5 * MiB), 100);
    assert.equal(line, `model [${'#'.repeat(20)}${'-'.repeat(20)}]   50%  5.00 MiB/10.0 MiB  2.00 MiB/s  ETA 0:03`);
    assert.ok(renderBarLine('model', at(5 * MiB), 50).length < 50);
    assert.match(renderBarLine('model', at(5 * MiB, { attempt: 2 }), 120), /\(attempt 2\)$/);
  });

  test('a label too long for a bar gives way to its short form, so an 80-column terminal still gets a bar', () => {
    const label = 'keras-resnet50: reading resnet50_weights_tf_dim_ordering_tf_kernels.h5';
    const line = renderBarLine(label, at(5 * MiB), 80, 'keras-resnet50');
    assert.ok(line.length < 80, line);
    assert.match(line, /^keras-resnet50 \[#+-+\]   50%  5\.00 MiB/);
    assert.equal(renderBarLine(label, at(5 * MiB), 132, 'keras-resnet50').startsWith(`${label} [`), true, 'the whole label when it fits');
    assert.match(renderBarLine(label, at(5 * MiB), 73, 'a-very-long-model-name-indeed'), /^a-very…ndeed \[#{5}-{5}\]/);
  });

  test('plain lines for logs', () => {
    assert.equal(renderPlainLine('model', at(5 * MiB)), 'model: 50% (5.00 MiB of 10.0 MiB, 2.00 MiB/s, ETA 0:03)');
    assert.equal(
      renderPlainLine('model', at(10 * MiB, { finished: true, etaSeconds: 0 })),
      'model: done 100% (10.0 MiB of 10.0 MiB, 2.00 MiB/s)',
    );
    assert.equal(renderPlainLine('model', at(MiB, { bytesTotal: undefined, etaSeconds: undefined })), 'model: (1.00 MiB, 2.00 MiB/s, ETA --:--)');
  });

  test('without a TTY it prints a line per 10% and the final one, no carriage returns', () => {
    const { out, stream } = recorder(false);
    const bar = createProgressBar('model', stream, () => 0);
    for (let done = 0; done <= 10 * MiB; done += MiB / 4) bar.update(at(done));
    bar.update(at(10 * MiB, { finished: true }));
    bar.finish();
    assert.equal(out.length, 11, out.join('')); // 0%, 10%, … 90%, then done 100%
    assert.ok(out.every((line) => line.endsWith('\n') && !line.includes('\r')));
    assert.match(out.at(-1)!, /^model: done 100%/);
  });

  test('on a TTY it redraws one line at most every 100 ms and ends it on finish', () => {
    const { out, stream } = recorder(true);
    let now = 0;
    const bar = createProgressBar('model', stream, () => now);
    bar.update(at(MiB));
    now = 50;
    bar.update(at(2 * MiB)); // too soon: skipped
    now = 150;
    bar.update(at(3 * MiB));
    now = 160;
    bar.update(at(10 * MiB, { finished: true })); // the last frame is always drawn
    bar.finish();
    assert.equal(out.length, 4);
    assert.ok(out.slice(0, 3).every((frame) => frame.startsWith('\r') && frame.endsWith('\x1b[K')));
    assert.match(out[2]!, /100%/);
    assert.equal(out[3], '\n');
  });
});
