// The coded errors etcd-xds reports: stable codes for logs, metrics and tests to match on.

export const ErrorCode = {
  BadRegistration: 'EXDS_BAD_REGISTRATION',
  BadPolicy: 'EXDS_BAD_POLICY',
  BadConfig: 'EXDS_BAD_CONFIG',
  EtcdUnavailable: 'EXDS_ETCD_UNAVAILABLE',
  BadRequest: 'EXDS_BAD_REQUEST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An expected failure, carried as a value (a bad registration is data, not an exception). */
export interface Problem {
  readonly code: ErrorCode;
  /** The etcd key, flag or field the problem is about. */
  readonly subject: string;
  readonly message: string;
}

export class EtcdXdsError extends Error {
  readonly code: ErrorCode;
  readonly subject: string;
  /** True when retrying the same operation later may succeed. */
  readonly recoverable: boolean;

  constructor(problem: Problem, options: { recoverable?: boolean; cause?: unknown } = {}) {
    super(`${problem.code}: ${problem.subject}: ${problem.message}`, { cause: options.cause });
    this.name = 'EtcdXdsError';
    this.code = problem.code;
    this.subject = problem.subject;
    this.recoverable = options.recoverable ?? false;
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(code: ErrorCode, subject: string, message: string): Result<T> {
  return { ok: false, problem: { code, subject, message } };
}
