// Reads the repository's Dockerfile and carries out its stages locally, without a container
// engine (none runs on this machine): each stage gets a directory standing for its filesystem,
// WORKDIR/COPY/RUN/ENV act on it, and the final stage's ENTRYPOINT/CMD say what the image runs.
// What a base image brings (Node itself) is the host's; everything the Dockerfile adds is real.
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly name: string | undefined;
  readonly base: string;
  readonly instructions: Instruction[];
}

export interface ImageConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly user: string | undefined;
  readonly workdir: string;
  readonly env: Record<string, string>;
}

/** Instructions, with comments dropped and `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`;
    pending = '';
    const match = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2], line: startLine });
  });
  return instructions;
}

/** The stages, with `${ARG}` in FROM resolved from the global ARG defaults. */
export function dockerStages(instructions: Instruction[]): Stage[] {
  const globalArgs: Record<string, string> = {};
  const stages: { name: string | undefined; base: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base, as, name] = instruction.args.split(/\s+/);
      const resolved = base.replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_, a?: string, b?: string) => globalArgs[(a ?? b)!] ?? '',
      );
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, base: resolved, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG')
        throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      Object.assign(globalArgs, assignments(instruction.args));
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

function jsonArray(instruction: Instruction): string[] {
  const value = JSON.parse(instruction.args) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`line ${instruction.line}: ${instruction.keyword} must be a JSON array (exec form)`);
  }
  return value;
}

/** `KEY=value KEY2=value2` (ARG, ENV): a value may itself contain `=`; a bare KEY gets "". */
function assignments(args: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of args.split(/\s+/)) {
    const equals = pair.indexOf('=');
    if (equals < 0) result[pair] = '';
    else result[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return result;
}
export function imageConfig(stage: Stage): ImageConfig {
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let user: string | undefined;
  let workdir = '/';
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'ENTRYPOINT') entrypoint = jsonArray(instruction);
    else if (instruction.keyword === 'CMD') cmd = jsonArray(instruction);
    else if (instruction.keyword === 'USER') user = instruction.args;
    else if (instruction.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, instruction.args);
    else if (instruction.keyword === 'ENV') Object.assign(env, assignments(instruction.args));
  }
  return { entrypoint, cmd, user, workdir, env };
}

/** Top-level names and paths .dockerignore keeps out of the build context. */
function ignored(context: string): (relative: string) => boolean {
  const file = path.join(context, '.dockerignore');
  const patterns = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/\/$/, ''))
        .filter((l) => l !== '' && !l.startsWith('#'))
    : [];
  if (patterns.some((p) => /[*?![]/.test(p)))
    throw new Error('.dockerignore: only plain paths are supported here');
  return (relative) => patterns.some((p) => relative === p || relative.startsWith(`${p}/`));
}

/**
 * Carries out every stage of `dockerfile` with `context` as the build context; each stage's
 * filesystem is `<out>/<stage index>`. Returns the final stage's root and configuration.
 */
export function buildLocally(
  dockerfile: string,
  context: string,
  out: string,
): { root: string; config: ImageConfig } {
  const stages = dockerStages(parseDockerfile(fs.readFileSync(dockerfile, 'utf8')));
  const isIgnored = ignored(context);
  const roots: string[] = [];
  stages.forEach((stage, index) => {
    const root = path.join(out, String(index));
    roots.push(root);
    fs.mkdirSync(root, { recursive: true });
    let workdir = '/';
    const env: Record<string, string> = {};
    const inRoot = (p: string): string => path.join(root, path.posix.resolve(workdir, p));
    for (const instruction of stage.instructions) {
      const { keyword, args } = instruction;
      if (keyword === 'WORKDIR') {
        workdir = path.posix.resolve(workdir, args);
        fs.mkdirSync(inRoot('.'), { recursive: true });
      } else if (keyword === 'ENV') {
        Object.assign(env, assignments(args));
      } else if (keyword === 'COPY') {
        const words = args.split(/\s+/);
        const from = words[0].startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
        if (words.some((w) => w.startsWith('--')))
          throw new Error(`line ${instruction.line}: unsupported COPY flag`);
        const dest = words.pop()!;
        const sourceStage = from === undefined ? undefined : stages.findIndex((s) => s.name === from);
        if (sourceStage === -1) throw new Error(`line ${instruction.line}: no stage ${from}`);
        for (const source of words) {
          const sourcePath =
            sourceStage === undefined ? path.join(context, source) : path.join(roots[sourceStage], source);
          if (!fs.existsSync(sourcePath))
            throw new Error(`line ${instruction.line}: COPY ${source}: not found`);
          const isDir = fs.statSync(sourcePath).isDirectory();
          const target =
            isDir || !(dest.endsWith('/') || words.length > 1)
              ? inRoot(dest)
              : path.join(inRoot(dest), path.basename(source));
          fs.mkdirSync(isDir ? target : path.dirname(target), { recursive: true });
          fs.cpSync(sourcePath, target, {
            recursive: true,
            filter: (src) =>
              sourceStage !== undefined || !isIgnored(path.relative(context, src).split(path.sep).join('/')),
          });
        }
      } else if (keyword === 'RUN') {
        execSync(args, {
          cwd: inRoot('.'),
          shell: '/bin/sh',
          stdio: 'pipe',
          env: { ...process.env, ...env },
        });
      } else if (!['ARG', 'USER', 'EXPOSE', 'ENTRYPOINT', 'CMD', 'LABEL'].includes(keyword)) {
        throw new Error(`line ${instruction.line}: ${keyword} is not supported here`);
      }
    }
  });
  return { root: roots.at(-1)!, config: imageConfig(stages.at(-1)!) };
}
