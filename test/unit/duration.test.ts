import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/duration';

describe('parseDuration', () => {
  const good: [string, number][] = [
    ['250ms', 250],
    ['1.5s', 1_500],
    ['30m', 1_800_000],
    ['0.5m', 30_000],
    [' 10s ', 10_000],
  ];
  for (const [text, ms] of good) {
    it(`reads ${JSON.stringify(text)} as ${ms} ms`, () => {
      assert.deepEqual(parseDuration(text, { maxMs: 3_600_000 }), { ok: true, ms });
    });
  }

  const bad: [string, RegExp][] = [
    ['10', /must be a duration such as "250ms", "1.5s", "30m"/],
    ['1h', /must be a duration/],
    ['-1s', /must be a duration/],
    ['1e3ms', /must be a duration/],
    ['s', /must be a duration/],
    ['0ms', /must be between 1ms and 60m/],
    ['61m', /must be between 1ms and 60m/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const parsed = parseDuration(text, { maxMs: 3_600_000 });
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.message, message);
    });
  }

  it('accepts only the units it is given', () => {
    assert.equal(parseDuration('5m', { maxMs: 3_600_000, units: ['ms', 's'] }).ok, false);
    assert.equal(parseDuration('5s', { maxMs: 3_600_000, units: ['ms', 's'] }).ok, true);
  });

  it('spells durations in the largest unit that divides them', () => {
    assert.deepEqual(
      [5 * 60_000, 90_000, 1_500, 1].map((ms) => formatDuration(ms)),
      ['5m', '90s', '1500ms', '1ms'],
    );
  });
});
