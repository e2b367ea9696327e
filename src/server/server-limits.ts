// What protects the xDS listener from clients that hold connections, streams or memory (the
// `serve` flags of contract §13; defaults are the flags' defaults).

export interface ServerLimits {
  /** A connection is closed this long (±10 %) after it opened; clients reconnect. */
  readonly maxConnectionAgeMs: number;
  /** …after which calls still running on it get this long before it is closed. */
  readonly maxConnectionAgeGraceMs: number;
  /** A connection without a stream for this long is closed. */
  readonly maxConnectionIdleMs: number;
  /** xDS streams served at once; more end with RESOURCE_EXHAUSTED. */
  readonly maxStreams: number;
  /** A stream whose client has read none of its responses for this long is ended. */
  readonly stallTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxConnectionAgeMs: 30 * 60_000,
  maxConnectionAgeGraceMs: 10_000,
  maxConnectionIdleMs: 5 * 60_000,
  maxStreams: 100_000,
  stallTimeoutMs: 5 * 60_000,
};
