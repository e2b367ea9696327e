// Time as an injected dependency, so debounce behaviour is testable without sleeping.

export interface Clock {
  now(): number;
  /** Runs `callback` after `ms`; 0 means the next turn of the event loop. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A zero delay: Node's setTimeout would wait at least 1 ms, setImmediate waits for nothing. */
class NextTurn {
  readonly immediate: NodeJS.Immediate;
  constructor(callback: () => void) {
    this.immediate = setImmediate(callback);
  }
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => (ms <= 0 ? new NextTurn(callback) : setTimeout(callback, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof NextTurn) clearImmediate(handle.immediate);
    else clearTimeout(handle as NodeJS.Timeout);
  },
};
