/** The api's view of live workers, read from their heartbeats: served models, and the versions they hold. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WorkerBeat } from './redis-keys.ts';
import { viewFromBeats } from './worker-view.ts';

const beat = (b: Partial<WorkerBeat>): string => JSON.stringify({ models: [], broken: [], host: 'h', pid: 1, ...b });

it('counts the workers of each model and collects the versions they hold', () => {
  const view = viewFromBeats([
    'w1', beat({ models: ['a', 'b'], versions: { a: '1', b: '7' } }),
    'w2', beat({ models: ['a'], versions: { a: '2' } }),
    'w3', beat({ models: ['a'], versions: { a: '3' }, draining: true }),
    'w4', beat({ models: ['c'] }),
  ]);
  assert.deepEqual([...view.served], [['a', 2], ['b', 1], ['c', 1]]);
  assert.deepEqual([...view.versions!].map(([m, v]) => [m, [...v].sort()]), [['a', ['1', '2']], ['b', ['7']]], 'a draining worker does not count; one that says no version names none');
});
