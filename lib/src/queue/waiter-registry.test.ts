import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors.ts';
import { WaiterRegistry } from './waiter-registry.ts';

const isDeadline = (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, 'DEADLINE_EXCEEDED');
  assert.equal(err.status, 504);
  // The page shows it as it is: it says which limit passed and what to do.
  assert.match(err.message, /: no worker answered in time; the workers may be busy or restarting: try again in a moment$/);
  return true;
};

describe('WaiterRegistry', () => {
  test('resolve hands the value to the waiter and forgets it', async () => {
    const reg = new WaiterRegistry<number>();
    const p = reg.wait('a', Date.now() + 5000);
    assert.equal(reg.size, 1);
    reg.resolve('a', 42);
    assert.equal(await p, 42);
    assert.equal(reg.size, 0);
  });

  test('reject hands the error to the waiter', async () => {
    const reg = new WaiterRegistry<number>();
    const p = reg.wait('a', Date.now() + 5000);
    const boom = new Error('boom');
    reg.reject('a', boom);
    await assert.rejects(p, (err) => err === boom);
    assert.equal(reg.size, 0);
  });

  test('waiters are independent by id', async () => {
    const reg = new WaiterRegistry<string>();
    const a = reg.wait('a', Date.now() + 5000);
    const b = reg.wait('b', Date.now() + 5000);
    reg.resolve('b', 'B');
    assert.equal(await b, 'B');
    assert.equal(reg.size, 1);
    reg.resolve('a', 'A');
    assert.equal(await a, 'A');
  });

  test('the deadline rejects with DEADLINE_EXCEEDED, calls onExpire once, and forgets the waiter', async () => {
    const reg = new WaiterRegistry<number>();
    let expired = 0;
    const started = Date.now();
    const p = reg.wait('a', started + 40, () => expired++);
    await assert.rejects(p, isDeadline);
    assert.ok(Date.now() - started >= 35, `rejected after ${Date.now() - started} ms`);
    assert.equal(expired, 1);
    assert.equal(reg.size, 0);
  });

  test('a late result after the deadline is ignored', async () => {
    const reg = new WaiterRegistry<number>();
    const p = reg.wait('a', Date.now() + 20);
    await assert.rejects(p, isDeadline);
    reg.resolve('a', 1); // no throw, no effect
    reg.reject('a', new Error('late'));
    assert.equal(reg.size, 0);
  });

  test('a deadline already past rejects right away', async () => {
    const reg = new WaiterRegistry<number>();
    await assert.rejects(reg.wait('a', Date.now() - 1000), isDeadline);
  });

  test('a result before the deadline cancels the timer (onExpire never runs)', async () => {
    const reg = new WaiterRegistry<number>();
    let expired = 0;
    const p = reg.wait('a', Date.now() + 30, () => expired++);
    reg.resolve('a', 7);
    assert.equal(await p, 7);
    await sleep(60);
    assert.equal(expired, 0);
  });

  test('unknown ids are ignored', () => {
    const reg = new WaiterRegistry<number>();
    reg.resolve('nobody', 1);
    reg.reject('nobody', new Error('x'));
    assert.equal(reg.size, 0);
  });

  test('rejectAll fails every waiter with a fresh error', async () => {
    const reg = new WaiterRegistry<number>();
    const ps = ['a', 'b', 'c'].map((id) => reg.wait(id, Date.now() + 5000));
    let made = 0;
    reg.rejectAll(() => new Error(`closing ${++made}`));
    const results = await Promise.allSettled(ps);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'fulfilled')),
      ['closing 1', 'closing 2', 'closing 3'],
    );
    assert.equal(reg.size, 0);
  });
});
