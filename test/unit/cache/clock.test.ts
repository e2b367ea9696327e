import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../../src/cache/clock';

describe('systemClock', () => {
  it('runs a zero delay on the next turn of the event loop (not after a 1 ms timer)', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      systemClock.setTimeout(() => order.push('zero delay'), 0);
      // Immediates run in the order queued, in the same turn: this one runs right after.
      setImmediate(resolve);
    });
    assert.deepEqual(order, ['zero delay']);
  });

  it('cancels either kind of delay', async () => {
    const fired: string[] = [];
    const now = systemClock.setTimeout(() => fired.push('cancelled zero delay'), 0);
    const later = systemClock.setTimeout(() => fired.push('cancelled 5 ms'), 5);
    systemClock.setTimeout(() => fired.push('5 ms'), 5);
    systemClock.clearTimeout(now);
    systemClock.clearTimeout(later);
    await sleep(50);
    assert.deepEqual(fired, ['5 ms']);
  });
});
