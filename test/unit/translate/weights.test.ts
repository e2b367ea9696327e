import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toPercentages } from '../../../src/translate/weights';

describe('toPercentages', () => {
  const cases: [number[], number[]][] = [
    [
      [90, 10],
      [90, 10],
    ],
    [
      [9, 1],
      [90, 10],
    ],
    [
      [1, 1, 1],
      [34, 33, 33],
    ],
    [
      [1, 2],
      [33, 67],
    ],
    [
      [1000, 1],
      [99, 1],
    ],
    [[5], [100]],
    [
      [3, 3, 3, 1],
      [30, 30, 30, 10],
    ],
  ];
  for (const [weights, expected] of cases) {
    it(`${JSON.stringify(weights)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(toPercentages(weights), expected);
    });
  }

  it('always sums to 100, keeps every positive weight at ≥ 1%, and stays within 1% of the exact share', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 20 }),
        (weights) => {
          const shares = toPercentages(weights);
          const sum = weights.reduce((a, b) => a + b, 0);
          assert.equal(
            shares.reduce((a, b) => a + b, 0),
            100,
          );
          for (const [i, share] of shares.entries()) {
            assert.ok(share >= 1);
            // The ≥1% floor can take from the largest share, never more than one point per entry.
            assert.ok(
              Math.abs(share - (weights[i] * 100) / sum) < 1 + weights.length,
              `${share} vs ${weights[i]}/${sum}`,
            );
          }
        },
      ),
    );
  });

  it('refuses what it cannot represent', () => {
    assert.throws(() => toPercentages([]), RangeError);
    assert.throws(() => toPercentages([0, 1]), RangeError);
    assert.throws(() => toPercentages(Array.from({ length: 101 }, () => 1)), RangeError);
  });
});
