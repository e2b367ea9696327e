// Assertions over the results of a batch of calls made through a real xDS client.
import assert from 'node:assert/strict';
import type { CallResult } from './xds-client-process';

/** Every call succeeded; returns the ids of the instances that answered. */
export function answeredBy(results: readonly CallResult[]): Set<string> {
  const failures = results.filter((r) => !r.ok);
  assert.equal(failures.length, 0, `calls failed: ${JSON.stringify(failures.slice(0, 3))}`);
  return new Set(results.map((r) => (r.ok ? r.id : '')));
}

/** Every call succeeded and the instances that answered are exactly `ids`. */
export function assertAnsweredBy(results: readonly CallResult[], ids: readonly string[]): void {
  assert.deepEqual([...answeredBy(results)].sort(), [...ids].sort());
}

/** Every call failed with `code`. */
export function assertAllFailed(results: readonly CallResult[], code: number): void {
  const codes = results.map((r) => (r.ok ? `ok:${r.id}` : r.code));
  assert.ok(
    codes.every((c) => c === code),
    `expected every call to fail with ${code}, got ${JSON.stringify(codes)}`,
  );
}

/** The share of successful calls answered by each instance id. */
export function shares(results: readonly CallResult[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of answeredBy(results)) counts.set(id, 0);
  for (const r of results) if (r.ok) counts.set(r.id, counts.get(r.id)! + 1);
  return new Map([...counts].map(([id, count]) => [id, count / results.length]));
}

/** Each instance's share is within `tolerance` of what `expected` says. */
export function assertShares(
  results: readonly CallResult[],
  expected: Record<string, number>,
  tolerance: number,
): void {
  const actual = shares(results);
  assert.deepEqual([...actual.keys()].sort(), Object.keys(expected).sort(), 'answering instances');
  for (const [id, share] of Object.entries(expected)) {
    const got = actual.get(id)!;
    assert.ok(
      Math.abs(got - share) <= tolerance,
      `${id}: share ${got.toFixed(3)}, expected ${share} ± ${tolerance}`,
    );
  }
}
