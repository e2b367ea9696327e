import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../../src/cache/clock';
import { Debouncer } from '../../../src/cache/debouncer';

/** A clock that only moves when told to. */
class ManualClock implements Clock {
  private time = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= target)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = target;
  }
}

function setup(
  quietMs: number,
  maxDelayMs: number,
): { clock: ManualClock; debouncer: Debouncer; fired: number[] } {
  const clock = new ManualClock();
  const fired: number[] = [];
  const debouncer = new Debouncer(clock, quietMs, maxDelayMs, () => fired.push(clock.now()));
  return { clock, debouncer, fired };
}

describe('Debouncer', () => {
  it('an isolated change fires on the next tick, with whatever else came before that tick', () => {
    const { clock, debouncer, fired } = setup(50, 500);
    debouncer.poke();
    debouncer.poke();
    assert.deepEqual(fired, [], 'not from inside poke()');
    clock.advance(0);
    assert.deepEqual(fired, [0]);
    clock.advance(1000);
    assert.deepEqual(fired, [0], 'once');
  });

  it('changes within the quiet period after a firing are held until they pause', () => {
    const { clock, debouncer, fired } = setup(50, 500);
    debouncer.poke();
    clock.advance(10);
    debouncer.poke();
    clock.advance(30);
    debouncer.poke();
    clock.advance(30);
    assert.deepEqual(fired, [0]);
    clock.advance(20);
    assert.deepEqual(fired, [0, 90], 'quiet for 50 ms after the change at 40');
  });

  it('fires no later than the maximum delay under a steady stream of changes', () => {
    const { clock, debouncer, fired } = setup(50, 200);
    for (let t = 0; t < 1000; t += 10) {
      debouncer.poke();
      clock.advance(10);
    }
    assert.deepEqual(fired, [0, 210, 410, 610, 810]);
    clock.advance(100);
    assert.deepEqual(fired, [0, 210, 410, 610, 810, 1010], 'the last window ends at its maximum');
  });

  it('after a quiet spell the next change fires at once again', () => {
    const { clock, debouncer, fired } = setup(50, 200);
    debouncer.poke();
    clock.advance(20);
    debouncer.poke();
    clock.advance(100);
    assert.deepEqual(fired, [0, 70]);
    debouncer.poke();
    clock.advance(0);
    assert.deepEqual(fired, [0, 70, 120], 'quiet since 70');
  });

  it('flush fires a pending change at once and only then', () => {
    const { clock, debouncer, fired } = setup(50, 200);
    debouncer.flush();
    assert.deepEqual(fired, []);
    debouncer.poke();
    debouncer.flush();
    assert.deepEqual(fired, [0]);
    clock.advance(500);
    assert.deepEqual(fired, [0]);
  });

  it('zero quiet time fires on the next tick', () => {
    const { clock, debouncer, fired } = setup(0, 0);
    debouncer.poke();
    debouncer.poke();
    clock.advance(0);
    assert.deepEqual(fired, [0]);
  });

  it('rejects a maximum delay shorter than the quiet period', () => {
    assert.throws(() => setup(100, 50), RangeError);
  });
});
