import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Logger } from '@icls/lib/logger';
import { LogSampler } from './log-sampler.ts';

describe('LogSampler', () => {
  test('at most N lines per key per window; the next line says how many were left out', async () => {
    const lines: [string, Record<string, unknown>][] = [];
    const record = (level: string) => (fields: Record<string, unknown>) => lines.push([level, fields]);
    const log = { info: record('info'), warn: record('warn'), error: record('error') } as unknown as Logger;
    const sampler = new LogSampler(log, { windowMs: 50, perWindow: 2 });
    for (let i = 0; i < 1000; i++) sampler.write('warn', 'QUEUE_FULL', { i }, 'refused');
    sampler.write('info', 'NOT_FOUND', { i: -1 }, 'client error');
    await new Promise((r) => setTimeout(r, 60));
    sampler.write('warn', 'QUEUE_FULL', { i: 1000 }, 'refused');
    assert.deepEqual(
      lines.map(([level, f]) => [level, f.i, f.similarNotLogged]),
      [['warn', 0, undefined], ['warn', 1, undefined], ['info', -1, undefined], ['warn', 1000, 998]],
    );
  });
});
