/**
 * The inference pool on real ONNX Runtime threads with the generated tiny-rgb model: where runs go
 * by load, and that every placement gives the same answer.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureModels } from '../../../tests/helpers/fixtures.ts';
import type { InputTensor } from '../preprocess/pixels-to-tensor.ts';
import { InferencePool, type PooledSession, type RunOptions } from './inference-pool.ts';

/** A 1×3×32×32 input whose red channel is brightest: tiny-rgb's logits are 8 × each channel's mean. */
const reddish = (): InputTensor => {
  const data = new Float32Array(3 * 32 * 32);
  data.fill(0.9, 0, 1024).fill(0.2, 1024);
  return { dtype: 'float32', data, dims: [1, 3, 32, 32] };
};

describe('inference pool: a lone job on every core, several on one lane each', () => {
  let pool: InferencePool;
  let session: PooledSession;
  const run = (opts?: RunOptions) => session.run('image', reddish(), 'logits', opts);

  before(async () => {
    pool = new InferencePool({ lanes: 2, laneThreads: 1, soloThreads: 2 });
    session = await pool.open(join(await fixtureModels(['tiny-rgb']), 'tiny-rgb', 'model.onnx'));
  });
  after(() => pool.close());

  test('one job at a time runs on the solo session', async () => {
    const before = { ...pool.runs };
    for (let i = 0; i < 3; i++) await pool.asJob(() => run());
    assert.deepEqual(pool.runs, { solo: before.solo + 3, lane: before.lane });
  });

  test('while another job is held, runs go to lanes, and both answers are the same', async () => {
    const lone = await pool.asJob(() => run());
    let release!: () => void;
    const other = pool.asJob(() => new Promise<void>((r) => (release = r)));
    const before = { ...pool.runs };
    const busy = await pool.asJob(() => run());
    release();
    await other;
    assert.deepEqual(pool.runs, { solo: before.solo, lane: before.lane + 1 });
    assert.deepEqual([...busy], [...lone]);
    assert.ok(busy[0]! > busy[1]! && busy[0]! > busy[2]!, 'red wins');
  });

  test('many runs at once all finish; all but the first (alone when it started) on lanes', async () => {
    const before = { ...pool.runs };
    const outs = await Promise.all(Array.from({ length: 6 }, () => pool.asJob(() => run())));
    assert.equal(outs.length, 6);
    assert.ok(pool.runs.lane - before.lane >= 5);
    assert.equal(pool.runs.lane + pool.runs.solo - before.lane - before.solo, 6);
  });

  test('a shape can be forced (the bench measures each limit with the setting that gives it)', async () => {
    const before = { ...pool.runs };
    await pool.asJob(() => run({ shape: 'lane' }));
    await Promise.all([run({ shape: 'solo' }), run({ shape: 'solo' })]);
    assert.deepEqual(pool.runs, { solo: before.solo + 2, lane: before.lane + 1 });
  });
});
