// Decoding etcd values as JSON, with a size bound, and turning validation errors into one line.
import type { z } from 'zod';

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeJsonValue(
  value: Uint8Array | string,
  maxBytes: number,
): { value: { [key: string]: JsonValue } | JsonValue } | { error: string } {
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  if (size > maxBytes) return { error: `value is ${size} bytes, more than the limit of ${maxBytes}` };
  let text: string;
  try {
    text = typeof value === 'string' ? value : utf8.decode(value);
  } catch {
    return { error: 'value is not valid UTF-8' };
  }
  try {
    return { value: JSON.parse(text) as JsonValue };
  } catch (error) {
    return { error: `value is not valid JSON: ${(error as Error).message}` };
  }
}

/** `weights.v2: Too small: expected number to be >=0; routes[0].version: ...` */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((part, index) =>
          typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
        )
        .join('');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
