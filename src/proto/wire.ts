// Protocol-buffer wire format written by hand, for the few messages encoded without protobufjs
// (gRPC endpoints and listeners, and the Any around a message already encoded): sizes first, then
// one buffer.

/** Bytes of `value` as a varint. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Bytes of a length-delimited field (one-byte tag) whose content is `length` bytes. */
export function delimitedFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Bytes of a varint field (one-byte tag) holding `value`. */
export function varintFieldSize(value: number): number {
  return 1 + varintSize(value);
}

/** Bytes of `text` in UTF-8 (its length when ASCII, without asking Buffer). */
export function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return text.length;
}

/** Writes into a buffer of the exact size computed beforehand; `finish` checks the size was right. */
export class ByteWriter {
  private readonly buffer: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  tag(byte: number): this {
    this.buffer[this.pos++] = byte;
    return this;
  }

  varint(value: number): this {
    while (value >= 0x80) {
      this.buffer[this.pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.pos++] = value;
    return this;
  }

  /** `text` of `length` UTF-8 bytes (utf8Length). */
  string(text: string, length: number): this {
    if (length === text.length) for (let i = 0; i < length; i++) this.buffer[this.pos++] = text.charCodeAt(i);
    else this.pos += this.buffer.write(text, this.pos, 'utf8');
    return this;
  }

  bytes(value: Uint8Array): this {
    this.buffer.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  finish(): Buffer {
    if (this.pos !== this.buffer.length)
      throw new Error(`encoded ${this.pos} bytes into a buffer of ${this.buffer.length}`);
    return this.buffer;
  }
}
