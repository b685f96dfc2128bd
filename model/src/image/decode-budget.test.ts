/**
 * The decode budget: what a worker's decoders may hold at once. The unit cases check its bookkeeping;
 * the last one checks that a real Classifier (real ONNX Runtime, sharp) charges each decode its
 * header's estimate, so two large images do not decode at once under a budget that holds one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { fixtureModels } from '../../../tests/helpers/fixtures.ts';
import { Classifier } from '../classifier.ts';
import { loadModelEntry } from '../repository/model-repository.ts';
import { DecodeBudget } from './decode-budget.ts';
import { imageDecodeBytes } from './image.ts';

const MB = 1024 * 1024;
const timeout = () => new Error('deadline');
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('DecodeBudget', () => {
  it('grants what fits at once, and makes the rest wait for a release', async () => {
    const budget = new DecodeBudget(100 * MB);
    const a = await budget.acquire(60 * MB, undefined, timeout);
    let bGranted = false;
    const b = budget.acquire(60 * MB, undefined, timeout).then((release) => ((bGranted = true), release));
    await settled();
    assert.equal(bGranted, false, '60 + 60 MB is over a 100 MB budget');
    assert.equal(budget.queued, 1);
    a();
    a(); // a second release gives nothing back twice
    const releaseB = await b;
    assert.equal(budget.charged, 60 * MB);
    releaseB();
    assert.equal(budget.charged, 0);
  });

  it('runs one decode alone whatever its estimate, so no image within MAX_PIXELS is refused for it', async () => {
    const budget = new DecodeBudget(10 * MB);
    const release = await budget.acquire(500 * MB, undefined, timeout);
    assert.equal(budget.charged, 500 * MB);
    release();
  });

  it('serves large decodes in arrival order, and lets a small one that fits go past them', async () => {
    const budget = new DecodeBudget(100 * MB);
    const first = await budget.acquire(50 * MB, undefined, timeout);
    const order: string[] = [];
    const large1 = budget.acquire(90 * MB, undefined, timeout).then((r) => (order.push('large1'), r));
    const large2 = budget.acquire(40 * MB, undefined, timeout).then((r) => (order.push('large2'), r));
    const small = budget.acquire(10 * MB, undefined, timeout).then((r) => (order.push('small'), r));
    await settled();
    assert.deepEqual(order, ['small'], 'the 40 MB one fits beside the first too, but a large one came before it; the 10 MB one does not wait');
    (await small)();
    first();
    (await large1)();
    (await large2)();
    assert.deepEqual(order, ['small', 'large1', 'large2']);
  });

  it('stops waiting at the deadline, and the decodes behind the one that gave up go on', async () => {
    const gaveUp: { bytes: number; waitedMs: number }[] = [];
    const budget = new DecodeBudget(100 * MB, { onGiveUp: (event) => gaveUp.push(event) });
    const held = await budget.acquire(60 * MB, undefined, timeout);
    const expiring = budget.acquire(90 * MB, Date.now() + 30, timeout);
    const behind = budget.acquire(30 * MB, undefined, timeout);
    await assert.rejects(expiring, /deadline/);
    assert.equal(gaveUp.length, 1, 'the worker is told, to log why its job ran out of time');
    assert.equal(gaveUp[0]!.bytes, 90 * MB);
    assert.ok(gaveUp[0]!.waitedMs >= 20, `waited ${gaveUp[0]!.waitedMs} ms`);
    const release = await behind; // 60 + 30 fits once the 90 MB waiter is gone
    assert.equal(budget.charged, 90 * MB);
    release();
    held();
    assert.equal(budget.queued, 0);
  });
});

describe('imageDecodeBytes', () => {
  const plan = { width: 32, height: 32, mode: 'stretch' as const, shorterSide: 32, interpolation: 'bilinear' as const };
  it('charges the whole image at its bytes per pixel, plus the RGB copy a nearest resize reads', async () => {
    const png16 = await sharp({ create: { width: 100, height: 50, channels: 4, background: '#808080' } }).png().toColourspace('rgb16').toBuffer();
    assert.equal(imageDecodeBytes(png16, plan, 1_000_000), 100 * 50 * 8);
    assert.equal(imageDecodeBytes(png16, { ...plan, interpolation: 'nearest' }, 1_000_000), 100 * 50 * 11);
    assert.equal(imageDecodeBytes(png16, plan, 4999), 0, 'over MAX_PIXELS: refused from the header, nothing held');
    assert.equal(imageDecodeBytes(Buffer.from('not an image'), plan, 1000), 8000, 'unreadable: the most an image within the limit takes');
  });
});

describe('a classifier with a decode budget', () => {
  it('does not decode two large images at once when the budget holds one', async () => {
    const entry = await loadModelEntry(await fixtureModels(['tiny-rgb']), 'tiny-rgb');
    const image = await sharp({ create: { width: 2000, height: 1500, channels: 4, background: '#804020' } }).png({ progressive: true }).toBuffer();
    const budget = new DecodeBudget(imageDecodeBytes(image, { width: 32, height: 32, mode: 'stretch', shorterSide: 32, interpolation: 'bilinear' }, 50_000_000) + MB);
    let peak = 0;
    const acquire = budget.acquire.bind(budget);
    budget.acquire = async (bytes, deadline, onTimeout) => {
      const release = await acquire(bytes, deadline, onTimeout);
      peak = Math.max(peak, budget.charged);
      return release;
    };
    const classifier = await Classifier.load(entry, { threads: 1, maxPixels: 50_000_000, decodeBudget: budget });
    try {
      const answers = await Promise.all([image, image, image].map((img) => classifier.classify(img, 1)));
      assert.equal(answers.length, 3);
      assert.ok(peak > 0 && peak <= budget.limitBytes, `decodes held ${peak} bytes at once; the budget is ${budget.limitBytes}`);
      assert.equal(budget.charged, 0, 'every decode gave its charge back');
    } finally {
      await classifier.close();
    }
  });
});
