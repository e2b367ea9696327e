// Turns arbitrary non-negative weights into whole percentages that every client splits alike.

export const WEIGHT_TOTAL = 100;

/**
 * Scales positive weights to integers summing to exactly 100 (older C-core clients reject any
 * other total), by largest remainder with ties broken by input order. Every positive weight keeps
 * at least 1%, so a canary of 1 in 1000 still gets traffic. At most 100 entries.
 */
export function toPercentages(weights: readonly number[]): number[] {
  if (weights.length === 0 || weights.length > WEIGHT_TOTAL) {
    throw new RangeError(`toPercentages needs 1-${WEIGHT_TOTAL} weights, got ${weights.length}`);
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0) || weights.some((w) => !(w > 0)))
    throw new RangeError('toPercentages needs positive weights');
  const exact = weights.map((w) => (w * WEIGHT_TOTAL) / sum);
  const shares = exact.map(Math.floor);
  let left = WEIGHT_TOTAL - shares.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of byRemainder) {
    if (left === 0) break;
    shares[index] += 1;
    left -= 1;
  }
  for (let index = 0; index < shares.length; index++) {
    if (shares[index] > 0) continue;
    let largest = 0;
    for (let other = 1; other < shares.length; other++) if (shares[other] > shares[largest]) largest = other;
    shares[largest] -= 1;
    shares[index] = 1;
  }
  return shares;
}
