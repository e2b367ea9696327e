// Where the server's rebuilds spend their time, from V8 CPU profiles of server runs (e.g. the
// caller-views scenario with `--server-node-args "--cpu-prof --cpu-prof-interval 100
// --cpu-prof-dir=prof"`). Per profile: the rebuilds after the first (SnapshotCache.rebuild), the
// garbage collection that interrupts them, and the functions they spend time in: self time, and
// inclusive time of a few named entry points.
//   npx tsx bench/rebuild-profile.ts prof/*.cpuprofile [--top 25] [--functions affected,enqueue]
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const REBUILD = 'rebuild';
const GC = '(garbage collector)';

function frameName({ functionName, url, lineNumber }: CallFrame): string {
  const file = url === '' ? '' : ` ${path.basename(url)}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${file}`;
}

interface Summary {
  readonly file: string;
  readonly rebuilds: number;
  /** Total µs of samples under a rebuild, and of GC samples between two such samples. */
  readonly rebuildUs: number;
  readonly gcUs: number;
  readonly self: Map<string, number>;
  readonly inclusive: Map<string, number>;
}

function summarise(file: string, functions: readonly string[]): Summary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** The node's stack from the outermost rebuild frame down (undefined: not under a rebuild). */
  const stacks = new Map<number, ProfileNode[] | undefined>();
  const underRebuild = (id: number): ProfileNode[] | undefined => {
    if (stacks.has(id)) return stacks.get(id);
    const stack: ProfileNode[] = [];
    let found = -1;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      stack.push(node);
      if (node.callFrame.functionName === REBUILD && node.callFrame.url.includes('snapshot-cache'))
        found = stack.length;
    }
    const result = found < 0 ? undefined : stack.slice(0, found).reverse();
    stacks.set(id, result);
    return result;
  };

  // A sample lasts until the next one.
  const duration = (i: number): number => profile.timeDeltas[i + 1] ?? 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let rebuilds = 0;
  let rebuildUs = 0;
  let gcUs = 0;
  let inRebuild = false;
  let pendingGc = 0;
  let gap = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])!;
    const stack = underRebuild(node.id);
    if (stack === undefined) {
      // GC between two samples of one rebuild counts as the rebuild's; a rebuild ends at the first
      // other sample (rebuilds are ≥ 50 ms apart: the debounce).
      if (inRebuild && node.callFrame.functionName === GC) pendingGc += duration(i);
      else if (inRebuild && gap++ > 2) {
        inRebuild = false;
        pendingGc = 0;
      }
      continue;
    }
    gap = 0;
    if (!inRebuild) rebuilds++;
    inRebuild = true;
    if (rebuilds === 1) continue; // the first rebuild translates everything: not a change
    gcUs += pendingGc;
    pendingGc = 0;
    const us = duration(i);
    rebuildUs += us;
    const name = frameName(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (const frame of stack) {
      const fn = frame.callFrame.functionName;
      if (!functions.includes(fn) || seen.has(fn)) continue;
      seen.add(fn);
      inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
    }
  }
  return { file, rebuilds: rebuilds - 1, rebuildUs, gcUs, self, inclusive };
}

function main(): void {
  const args = process.argv.slice(2);
  let top = 25;
  let functions = ['affected', 'enqueue', 'onSnapshot', 'diffViews', 'viewSnapshot', 'withOverrides'];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else if (args[i] === '--functions') functions = args[++i].split(',');
    else files.push(args[i]);
  }
  const ms = (us: number): string => (us / 1000).toFixed(1);
  for (const file of files) {
    const summary = summarise(file, functions);
    console.log(
      `${path.basename(summary.file)}: ${summary.rebuilds} rebuilds after the first, ` +
        `${ms(summary.rebuildUs)} ms in them (${ms(summary.rebuildUs / Math.max(1, summary.rebuilds))} ms each), ` +
        `+ ${ms(summary.gcUs)} ms GC inside them`,
    );
    console.log(
      '  inclusive: ' + functions.map((fn) => `${fn} ${ms(summary.inclusive.get(fn) ?? 0)}`).join(', '),
    );
    const sorted = [...summary.self].sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [name, us] of sorted) console.log(`  ${ms(us).padStart(7)} ms  ${name}`);
  }
}

main();
