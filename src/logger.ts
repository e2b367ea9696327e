// The structured JSON logger (pino) every stage logs through.
import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel, destination: pino.DestinationStream | number = 1): Logger {
  return pino(
    { level, base: { app: 'etcd-xds' }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination,
  );
}

/** Longest client-supplied text written to a log line, in characters. */
export const MAX_LOGGED_TEXT = 256;

/**
 * Client-supplied text (a node id, a type URL, a NACK's message) as it may appear in a log line:
 * at most MAX_LOGGED_TEXT characters, a longer text cut and ending with how long it was, so a
 * client cannot write megabytes of log per request.
 */
export function clientText(text: string): string;
export function clientText(text: string | null | undefined): string | undefined;
export function clientText(text: string | null | undefined): string | undefined {
  if (text === null || text === undefined) return undefined;
  if (text.length <= MAX_LOGGED_TEXT) return text;
  const note = `… (cut, ${text.length} characters in all)`;
  return text.slice(0, MAX_LOGGED_TEXT - note.length) + note;
}

/**
 * Caps a kind of log line that can come in storms (10,000 clients reconnecting at once): the
 * first `limit` in a window are logged one by one, the rest only counted, and `summary` reports
 * the count when the window ends.
 */
export class LogBurstLimit {
  private timer: NodeJS.Timeout | undefined;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly summary: (suppressed: number, windowMs: number) => void,
  ) {}

  /** Whether to log this line; counts it otherwise. */
  allow(): boolean {
    if (this.timer === undefined) {
      this.logged = 0;
      this.suppressed = 0;
      this.timer = setTimeout(() => this.endWindow(), this.windowMs);
      this.timer.unref();
    }
    if (this.logged < this.limit) {
      this.logged++;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** Logs a line at `info` while the window allows it, at `debug` beyond that. */
  log(logger: Logger, fields: object, message: string): void {
    if (this.allow()) logger.info(fields, message);
    else logger.debug(fields, message);
  }

  /** Ends the current window now (reporting what it suppressed), e.g. at shutdown. */
  flush(): void {
    clearTimeout(this.timer);
    this.endWindow();
  }

  private endWindow(): void {
    this.timer = undefined;
    if (this.suppressed > 0) this.summary(this.suppressed, this.windowMs);
    this.suppressed = 0;
  }
}
