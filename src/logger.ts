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
