// Runs the etcd-xds command line to completion and reports how it ended, without throwing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..');
export const CLI_SOURCE = path.join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node <script> <args>` (script: the built bin, or the TypeScript source through tsx) and
 * resolves to its exit code and output.
 */
export function runCli(args: readonly string[], script: string = CLI_SOURCE): Promise<CliResult> {
  const nodeArgs = script.endsWith('.ts') ? ['--import', 'tsx', script, ...args] : [script, ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, nodeArgs, { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `etcd-xds <args>` (the TypeScript source, through tsx) as a child process. */
export function spawnCli(args: readonly string[], output: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args], {
    cwd: ROOT,
    stdio: ['ignore', output, output],
  });
}
