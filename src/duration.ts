// Durations as users write them in flags and policies: "<number>ms", "<number>s" or "<number>m".

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

export type DurationUnit = keyof typeof UNIT_MS;

/**
 * Milliseconds for `text` ("250ms", "1.5s", "30m"), or an error message saying what is wrong.
 * `units` are the units accepted; `min`/`max` bound the value in milliseconds.
 */
export function parseDuration(
  text: string,
  {
    units = ['ms', 's', 'm'],
    minMs = 1,
    maxMs,
  }: { units?: readonly DurationUnit[]; minMs?: number; maxMs: number },
): { ok: true; ms: number } | { ok: false; message: string } {
  const match = DURATION.exec(text.trim());
  const unit = match?.[2] as DurationUnit | undefined;
  if (match === null || unit === undefined || !units.includes(unit)) {
    const examples = units.map((u) => `"${u === 'ms' ? 250 : u === 's' ? 1.5 : 30}${u}"`).join(', ');
    return { ok: false, message: `must be a duration such as ${examples}` };
  }
  const ms = Number(match[1]) * UNIT_MS[unit];
  if (ms < minMs || ms > maxMs)
    return { ok: false, message: `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}` };
  return { ok: true, ms };
}

/** The shortest exact spelling of `ms` in the largest unit that divides it ("90s", "30m"). */
export function formatDuration(ms: number): string {
  if (ms >= UNIT_MS.m && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms >= UNIT_MS.s && ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}
