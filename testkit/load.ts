// Keeps calling a service through a client while a test does damage, and counts what happened.
import type { CallResult } from './xds-client-process';

export interface CallingClient {
  readonly language: string;
  call(
    target: string,
    options?: { metadata?: Record<string, string>; count?: number; deadlineMs?: number },
  ): Promise<CallResult[]>;
}

export class CallLoad {
  private running = true;
  private readonly loop: Promise<void>;
  calls = 0;
  readonly failures: CallResult[] = [];
  /** Calls answered per instance id. */
  readonly answeredBy = new Map<string, number>();

  constructor(
    readonly client: CallingClient,
    target: string,
    metadata: Record<string, string> = {},
  ) {
    this.loop = (async () => {
      while (this.running) {
        for (const result of await client.call(target, { metadata, count: 5, deadlineMs: 3_000 })) {
          this.calls++;
          if (result.ok) this.answeredBy.set(result.id, (this.answeredBy.get(result.id) ?? 0) + 1);
          else this.failures.push(result);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  }

  /** Forgets what was counted so far. */
  reset(): void {
    this.calls = 0;
    this.failures.length = 0;
    this.answeredBy.clear();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  describe(): string {
    return `${this.client.language}: ${this.calls} calls, ${this.failures.length} failed, answered by ${JSON.stringify(Object.fromEntries(this.answeredBy))}`;
  }
}
