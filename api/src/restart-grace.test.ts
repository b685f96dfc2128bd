/** The restart grace on its own, on views as the workers' heartbeats give them and an explicit clock. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RestartGrace } from './restart-grace.ts';

const view = (served: string[], broken: string[] = []) => ({
  served: new Map(served.map((m) => [m, 1])),
  broken: new Map(broken.map((m) => [m, 'could not load it'])),
});

it('a model whose last worker went is awaited for the grace, counted from when it was last seen served', () => {
  const grace = new RestartGrace(10_000);
  assert.deepEqual(grace.missing(view(['a', 'b']), 1_000), []);
  assert.deepEqual(grace.missing(view(['b']), 4_000), ['a'], 'a worker holding a died');
  assert.deepEqual(grace.missing(view(['b']), 10_999), ['a']);
  assert.deepEqual(grace.missing(view(['b']), 11_000), [], 'the grace is over');
  assert.deepEqual(grace.missing(view(['b']), 11_500), [], 'and stays over');
  assert.deepEqual(grace.missing(view(['a', 'b']), 12_000), [], 'a restarted worker serves it');
  assert.deepEqual(grace.missing(view([]), 15_000).sort(), ['a', 'b'], 'a fresh grace from the last sighting');
});

it('a model a live worker reports broken, and none serves, is not awaited', () => {
  const grace = new RestartGrace(10_000);
  grace.missing(view(['a', 'b']), 0);
  assert.deepEqual(grace.missing(view([], ['a']), 1_000), ['b'], 'the successor came back without a');
  assert.deepEqual(grace.missing(view([]), 2_000), ['b'], 'a is not awaited again later either');
  assert.deepEqual(grace.missing(view(['a'], ['a']), 3_000), ['b'], 'broken on one worker, served by another: served');
  assert.deepEqual(grace.missing(view([]), 4_000).sort(), ['a', 'b']);
});

it('a grace of 0 awaits nothing', () => {
  const grace = new RestartGrace(0);
  grace.missing(view(['a']), 0);
  assert.deepEqual(grace.missing(view([]), 1), []);
});

it('remembers a bounded number of models, the most recently served kept', () => {
  const grace = new RestartGrace(10_000);
  const many = Array.from({ length: 1500 }, (_, i) => `m${i}`);
  grace.missing(view(many), 0);
  grace.missing(view(['m0']), 1);
  const awaited = grace.missing(view([]), 2);
  assert.equal(awaited.length, 1000);
  assert.ok(awaited.includes('m0'), 'seen last, so kept');
  assert.ok(!awaited.includes('m1'), 'among the oldest, so dropped');
});
