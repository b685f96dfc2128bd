import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseLane, type PoolLoad } from './lane-choice.ts';

const idle2: PoolLoad = { busyLanes: [false, false], soloBusy: false, hasSolo: true, jobsInFlight: 1, queuedBehind: 0 };

describe('where an inference runs', () => {
  test('a lone job on an idle pool gets the solo session (every core)', () => {
    assert.deepEqual(chooseLane(idle2, 'auto'), { kind: 'solo' });
  });

  test('with other jobs held or runs queued, each run takes one lane', () => {
    assert.deepEqual(chooseLane({ ...idle2, jobsInFlight: 2 }, 'auto'), { kind: 'lane', lane: 0 });
    assert.deepEqual(chooseLane({ ...idle2, queuedBehind: 1 }, 'auto'), { kind: 'lane', lane: 0 });
    assert.deepEqual(chooseLane({ ...idle2, jobsInFlight: 3, busyLanes: [true, false] }, 'auto'), { kind: 'lane', lane: 1 });
    assert.equal(chooseLane({ ...idle2, jobsInFlight: 3, busyLanes: [true, true] }, 'auto'), undefined);
  });

  test('a lone job while a lane still finishes an abandoned run takes a free lane rather than wait', () => {
    assert.deepEqual(chooseLane({ ...idle2, busyLanes: [true, false] }, 'auto'), { kind: 'lane', lane: 1 });
  });

  test('nothing starts while a solo run holds every core', () => {
    assert.equal(chooseLane({ ...idle2, soloBusy: true, busyLanes: [true, false] }, 'auto'), undefined);
    assert.equal(chooseLane({ ...idle2, soloBusy: true, busyLanes: [true, false], jobsInFlight: 4 }, 'lane'), undefined);
  });

  test('forced shapes (the bench measures each limit with the settings that give it)', () => {
    assert.deepEqual(chooseLane({ ...idle2, jobsInFlight: 5 }, 'solo'), { kind: 'solo' });
    assert.equal(chooseLane({ ...idle2, busyLanes: [false, true] }, 'solo'), undefined);
    assert.deepEqual(chooseLane(idle2, 'lane'), { kind: 'lane', lane: 0 });
  });

  test('a pool without a solo session runs everything on lanes', () => {
    const noSolo = { ...idle2, hasSolo: false };
    assert.deepEqual(chooseLane(noSolo, 'auto'), { kind: 'lane', lane: 0 });
    assert.deepEqual(chooseLane(noSolo, 'solo'), { kind: 'lane', lane: 0 });
  });
});
