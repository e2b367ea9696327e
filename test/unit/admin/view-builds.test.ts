import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HeavyRequests } from '../../../src/admin/heavy-requests';
import { type SlicedTask, ViewBuilds } from '../../../src/admin/view-builds';
import { Metrics } from '../../../src/metrics';

/** A task of `pieces` pieces of `bytes` bytes; each piece advances the fake clock by `costMs`. */
class CountingTask implements SlicedTask {
  produced = 0;
  steps = 0;
  constructor(
    private readonly clock: { ms: number },
    private readonly pieces: number,
    private readonly bytes = 10,
    private readonly costMs = 1,
  ) {}
  get done(): boolean {
    return this.produced === this.pieces;
  }
  step(deadline: number, now: () => number): Buffer[] {
    this.steps++;
    const out: Buffer[] = [];
    while (!this.done) {
      out.push(Buffer.alloc(this.bytes, 'x'));
      this.produced++;
      this.clock.ms += this.costMs;
      if (now() >= deadline) break;
    }
    return out;
  }
}

describe('ViewBuilds', () => {
  it('shares a running build, and a finished one while the version is the same', async () => {
    const clock = { ms: 0 };
    let built = 0;
    const builds = new ViewBuilds({ now: () => clock.ms, onBuild: () => built++ });
    const task = (): SlicedTask => new CountingTask(clock, 20);
    const first = builds.get('v', 'k', [1], task);
    const second = builds.get('v', 'k', [1], task);
    assert.equal(first, second);
    const [a, b] = await Promise.all([first.whole(), second.whole()]);
    assert.equal(a.length, 200);
    assert.equal(b.length, 200);
    assert.equal(builds.get('v', 'k', [1], task), first, 'finished, same version');
    assert.notEqual(builds.get('v', 'k', [2], task), first, 'a new version is built anew');
    assert.notEqual(builds.get('v', 'other', [1], task), first, 'another key is another build');
    assert.equal(built, 3);
  });

  it('a build that is still running is shared even if the version moved on', () => {
    const clock = { ms: 0 };
    const builds = new ViewBuilds({ now: () => clock.ms });
    const first = builds.get('v', 'k', [1], () => new CountingTask(clock, 20));
    assert.equal(
      builds.get('v', 'k', [2], () => new CountingTask(clock, 20)),
      first,
    );
  });

  it('gives all builds together at most one slice per event-loop turn, taking turns', async () => {
    const clock = { ms: 0 };
    const builds = new ViewBuilds({ now: () => clock.ms, sliceMs: 5 });
    const tasks = [new CountingTask(clock, 30), new CountingTask(clock, 30)];
    const views = tasks.map((task, i) => builds.get('v', `k${i}`, [1], () => task));
    await nextTurn();
    // One turn: 5 ms of work in all, not 5 ms each.
    assert.equal(tasks[0].produced + tasks[1].produced, 5);
    await Promise.all(views.map((view) => view.whole()));
    assert.ok(tasks[1].steps >= 5, 'the second build got turns of its own');
  });

  it('keeps finished builds within the byte budget, dropping the least recently used', async () => {
    const clock = { ms: 0 };
    const builds = new ViewBuilds({ now: () => clock.ms, retainBytes: 250 });
    const make = (key: string) => builds.get('v', key, [1], () => new CountingTask(clock, 10)); // 100 bytes
    const a = make('a');
    await a.whole();
    const b = make('b');
    await b.whole();
    assert.equal(make('a'), a, 'a is used again (and becomes the most recent)');
    const c = make('c');
    await c.whole();
    assert.equal(make('a'), a);
    assert.equal(make('c'), c);
    assert.notEqual(make('b'), b, 'b was dropped: 300 bytes would exceed the budget');
  });

  it('reports a build that fails and does not keep it', async () => {
    const errors: string[] = [];
    const builds = new ViewBuilds({ onError: (view, error) => errors.push(`${view}: ${error.message}`) });
    const failing: SlicedTask = {
      done: false,
      step() {
        throw new Error('boom');
      },
    };
    const build = builds.get('v', 'k', [1], () => failing);
    await assert.rejects(build.whole(), /boom/);
    assert.deepEqual(errors, ['v: boom']);
    assert.notEqual(
      builds.get('v', 'k', [1], () => new CountingTask({ ms: 0 }, 1)),
      build,
    );
  });
});

describe('HeavyRequests', () => {
  it('lets `max` run at once, refuses and counts the rest, and frees a turn once', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const heavy = new HeavyRequests(2, metrics.adminRefusedRequests);
    const first = heavy.begin('config_dump');
    const second = heavy.begin('clients');
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(heavy.begin('config_dump'), undefined);
    first();
    first();
    assert.equal(heavy.inFlight, 1);
    assert.ok(heavy.begin('csds') !== undefined);
    assert.equal(heavy.begin('csds'), undefined);
    const text = await metrics.registry.metrics();
    assert.match(text, /etcd_xds_admin_refused_requests_total\{endpoint="config_dump"\} 1/);
    assert.match(text, /etcd_xds_admin_refused_requests_total\{endpoint="csds"\} 1/);
  });
});
