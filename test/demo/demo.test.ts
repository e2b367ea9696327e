// `npm run demo` is the README's first command: run it and check that what it prints is the story
// it tells (version routing, the 90/10 split, the header rule, instances coming and going).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const ROOT = path.join(__dirname, '..', '..');

/** The demo's result lines, in order: label → who answered and how often. */
function parseTallies(stdout: string): { label: string; tally: Map<string, number> }[] {
  return (
    stdout
      .split('\n')
      // Result lines are indented by two spaces (explain's output, by more, has arrows too).
      .filter((line) => /^ {2}\S/.test(line) && line.includes(' → '))
      .map((line) => {
        const [label, answers] = line.split(' → ');
        const tally = new Map<string, number>();
        for (const part of answers.split(', ')) {
          const match = /^(.*) ×(\d+)$/.exec(part.trim());
          assert.ok(match, `unexpected answer '${part}' in '${line}'`);
          tally.set(match[1], Number(match[2]));
        }
        return { label: label.trim(), tally };
      })
  );
}

const only = (tally: Map<string, number>, allowed: RegExp): void =>
  assert.ok(
    [...tally.keys()].every((who) => allowed.test(who)),
    `expected only ${allowed}, got ${JSON.stringify([...tally])}`,
  );

describe('npm run demo', () => {
  it('routes by version, splits 90/10, applies the header rule, follows registrations and pins app v2 to user v3', async (t) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'demo/run.ts')],
      { cwd: ROOT, timeout: 120_000 },
    );
    t.diagnostic(
      stdout
        .split('\n')
        .filter((l) => l.includes(' → '))
        .join(' | '),
    );
    const lines = parseTallies(stdout);
    assert.deepEqual(
      lines.map((l) => l.label),
      [
        'header version: v1',
        'header version: v2',
        'header version: v9 (no instances)',
        'no version header',
        'no version header, 200 calls',
        'header x-group: beta',
        'no header',
        'header version: v2',
        'header version: v2',
        'user, header version: v1',
        'user, pinned, header version: v1',
        'user, pinned, no header',
        'policy deleted: header version: v1',
      ],
    );
    const [v1, v2, v9, none, split, beta, noHeader, twoV2, lastV2, userV1, pinned, pinnedNoHeader, unpinned] =
      lines.map((l) => l.tally);
    only(v1, /^app-v1-[ab] \(v1\)$/);
    only(v2, /^app-v2-a \(v2\)$/);
    only(v9, /^UNAVAILABLE/);
    assert.equal(none.size, 3, 'no header: every instance answers');
    const v2Share = (split.get('app-v2-a (v2)') ?? 0) / 200;
    // 90/10 over 200 calls: 20 ± 4.2 expected from v2; ±3.3 standard deviations.
    assert.ok(v2Share >= 0.03 && v2Share <= 0.17, `v2 got ${v2Share * 100} % of 200 calls`);
    only(beta, /^app-v2-a \(v2\)$/);
    only(noHeader, /\(v1\)$/);
    assert.ok(twoV2.has('app-v2-b (v2)'), 'the new v2 instance answers');
    only(lastV2, /^app-v2-b \(v2\)$/);
    // The demo client is app v2: the caller route pins it to user v3 whatever its headers say.
    only(userV1, /^user-v1 \(v1\)$/);
    only(pinned, /^user-v3 \(v3\)$/);
    only(pinnedNoHeader, /^user-v3 \(v3\)$/);
    only(unpinned, /^user-v1 \(v1\)$/);
    assert.match(
      stdout,
      /\$ etcd-xds explain user --caller service=app --caller version=v2 -H version:v1\n\s+call to user from service=app,version=v2[^\n]*\n\s+route: policy-0[^\n]*\n\s+outcome: routed\n\s+100% → cluster user\/v3\n\s+user-v3 [^\n]*\n\s+\(exit 0\)/,
    );
    assert.match(
      stdout,
      /\$ etcd-xds explain user -H version:v1\n\s+call to user from a client without caller labels[^\n]*\n\s+route: version-v1[^\n]*\n\s+outcome: routed\n\s+100% → cluster user\/v1\n/,
    );
    assert.match(stdout, /Done\. Every answer above came through/);
  });
});
