// JSON text written a slice at a time: a view of every service or client can be tens of MB, and
// building it in one go (then JSON.stringify) would take the event loop from xDS clients for
// seconds. A view is a tree whose big arrays and objects are lazy (their items are produced only
// when written); JsonWriter writes it into Buffer chunks until a deadline, then yields.

/** An array whose items are produced one at a time as the JSON is written. */
export class LazyArray {
  constructor(readonly items: Iterable<unknown>) {}
}

/**
 * An object whose entries are produced one at a time as the JSON is written; entries whose value
 * is undefined are left out, as JSON.stringify does.
 */
export class LazyObject {
  constructor(readonly entries: Iterable<readonly [string, unknown]>) {}
}

/** `fn` applied to each of `items`, one at a time as they are taken. */
export function* mapped<T, U>(items: Iterable<T>, fn: (item: T) => U): Generator<U> {
  for (const item of items) yield fn(item);
}

/** A lazy array of `fn` applied to each of `items`, each computed when it is written. */
export function lazyMap<T>(items: Iterable<T>, fn: (item: T) => unknown): LazyArray {
  return new LazyArray(mapped(items, fn));
}

/** An object whose fields may hold lazy values (a plain object holding one would not be written lazily). */
export function lazyFields(fields: Record<string, unknown>): LazyObject {
  return new LazyObject(Object.entries(fields));
}

interface Frame {
  readonly array: boolean;
  readonly items: Iterator<unknown>;
  first: boolean;
}

/** Text is turned into a Buffer chunk once it reaches this many characters. */
const CHUNK_CHARS = 64 * 1024;

/** Writes one value, which may hold LazyArray and LazyObject parts, as JSON. */
export class JsonWriter {
  private readonly stack: Frame[] = [];
  private text = '';
  private started = false;

  constructor(private readonly value: unknown) {}

  get done(): boolean {
    return this.started && this.stack.length === 0;
  }

  /**
   * Writes until `now()` passes `deadline` (checked after every item) or the value is complete;
   * returns the chunks finished meanwhile (the last one when complete).
   */
  step(deadline: number, now: () => number): Buffer[] {
    const chunks: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      this.write(this.value);
    }
    while (this.stack.length > 0) {
      const frame = this.stack[this.stack.length - 1];
      const next = frame.items.next();
      if (next.done === true) {
        this.text += frame.array ? ']' : '}';
        this.stack.pop();
      } else if (frame.array) {
        if (!frame.first) this.text += ',';
        frame.first = false;
        this.write(next.value);
      } else {
        const [key, value] = next.value as readonly [string, unknown];
        if (value !== undefined) {
          this.text += `${frame.first ? '' : ','}${JSON.stringify(key)}:`;
          frame.first = false;
          this.write(value);
        }
      }
      if (this.text.length >= CHUNK_CHARS) chunks.push(this.take());
      if (now() >= deadline) break;
    }
    if (this.stack.length === 0 && this.text.length > 0) chunks.push(this.take());
    return chunks;
  }

  private write(value: unknown): void {
    if (value instanceof LazyArray) {
      this.text += '[';
      this.stack.push({ array: true, items: value.items[Symbol.iterator](), first: true });
    } else if (value instanceof LazyObject) {
      this.text += '{';
      this.stack.push({ array: false, items: value.entries[Symbol.iterator](), first: true });
    } else {
      // undefined and functions, which JSON.stringify leaves out of objects, are null in arrays.
      this.text += JSON.stringify(value) ?? 'null';
    }
  }

  private take(): Buffer {
    const chunk = Buffer.from(this.text, 'utf8');
    this.text = '';
    return chunk;
  }
}
