// A bench child process (load generator, floor server) driven over IPC: send a command, await
// the event that answers it.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export class IpcChild<Command extends object, Event extends { ev: string }> {
  private readonly child: ChildProcess;
  private readonly waiters: { ev: string; resolve: (event: Event) => void; reject: (e: Error) => void }[] =
    [];
  private exitError: Error | undefined;

  constructor(script: string, execArgv: string[] = []) {
    this.child = fork(path.join(__dirname, '..', script), [], {
      execArgv: ['--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (event: Event) => {
      if (event.ev === 'error') {
        this.waiters
          .shift()
          ?.reject(new Error(`${script}: ${(event as unknown as { message: string }).message}`));
        return;
      }
      const index = this.waiters.findIndex((w) => w.ev === event.ev);
      if (index >= 0) this.waiters.splice(index, 1)[0].resolve(event);
    });
    this.child.on('exit', (code, signal) => {
      this.exitError = new Error(`${script} exited (${code ?? signal})`);
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.exitError);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<E extends Event['ev']>(
    command: Command,
    ev: E,
    timeoutMs = 600_000,
  ): Promise<Extract<Event, { ev: E }>> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = {
        ev,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event as Extract<Event, { ev: E }>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      // A request that timed out must not take the answer meant for a later one.
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${ev} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
      this.child.send(command);
    });
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.disconnect();
      setTimeout(() => this.child.kill('SIGKILL'), 5_000).unref();
    });
  }
}
