import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from './config.ts';
import { hasSoloSession, workerPlan, workerProcessCount } from './worker-plan.ts';

const plan = (env: Record<string, string>, embedded: boolean, cores: number) => workerPlan(loadConfig(env), { embedded }, cores);

describe('how a host divides its cores among model workers', () => {
  test('by default one process per host: a lane per core, one-thread lane sessions, a solo session with every core', () => {
    assert.equal(workerProcessCount(loadConfig({})), 1);
    assert.deepEqual(plan({}, false, 4), { cores: 4, lanes: 4, laneThreads: 1, soloThreads: 4, concurrency: 8 });
    assert.deepEqual(plan({}, true, 2), { cores: 2, lanes: 2, laneThreads: 1, soloThreads: 2, concurrency: 4 });
    assert.equal(hasSoloSession(plan({}, false, 2)), true);
  });

  test('several processes per host share the cores; a one-core share has no solo session', () => {
    assert.deepEqual(plan({ MODEL_WORKERS: '2' }, false, 2), { cores: 1, lanes: 1, laneThreads: 1, soloThreads: 1, concurrency: 2 });
    assert.equal(hasSoloSession(plan({ MODEL_WORKERS: '2' }, false, 2)), false);
    assert.deepEqual(plan({ MODEL_WORKERS: '2' }, false, 8), { cores: 4, lanes: 4, laneThreads: 1, soloThreads: 4, concurrency: 8 });
    // Embedded mode has the one process: MODEL_WORKERS does not divide its cores.
    assert.equal(plan({ MODEL_WORKERS: '4' }, true, 8).cores, 8);
  });

  test('explicit settings win: fewer, wider lanes; no solo session; a fixed job count', () => {
    assert.deepEqual(plan({ INFERENCE_THREADS: '2' }, false, 8), { cores: 8, lanes: 2, laneThreads: 4, soloThreads: 8, concurrency: 4 });
    assert.equal(hasSoloSession(plan({ SOLO_ORT_THREADS: '1' }, false, 8)), false);
    assert.equal(hasSoloSession(plan({ ORT_THREADS: '8' }, false, 8)), false);
    assert.equal(plan({ WORKER_CONCURRENCY: '3' }, false, 8).concurrency, 3);
  });
});
