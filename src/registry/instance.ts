// Parses one registration (an etcd key and its value) into an Instance, or says why it cannot.
import { z } from 'zod';
import { ErrorCode, fail, ok, type Result } from '../errors';
import { parseSocketAddress, type SocketAddress } from './address';
import { checkServiceName, checkVersion } from './names';
import { decodeJsonValue, formatZodError, type JsonObject } from './json-value';

export interface Instance {
  /** The etcd key this instance is registered under; unique. */
  readonly key: string;
  readonly service: string;
  readonly id: string;
  /** Absent when the registration names no version: the instance only serves version-less traffic. */
  readonly version: string | undefined;
  readonly address: SocketAddress;
  /** Relative share of traffic, 1 by default. */
  readonly weight: number;
  /** Locality zone, '' when not given. */
  readonly zone: string;
  /**
   * `draining`: still registered, sent to clients as DRAINING (no new calls, calls in flight
   * finish) and not counted for routing decisions (contract §9).
   */
  readonly status: InstanceStatus;
  readonly metadata: JsonObject | undefined;
}

export type InstanceStatus = 'serving' | 'draining';

export const MAX_REGISTRATION_BYTES = 64 * 1024;
export const MAX_INSTANCE_WEIGHT = 10_000;

// Unknown fields are ignored: registrars in other languages add their own (TTLs, etcd settings).
export const registrationFields = z.object({
  name: z.string({ error: 'name is required and must be a string' }),
  id: z.string().min(1).max(253).optional(),
  version: z.string().optional(),
  address: z.string({ error: 'address is required and must be a string' }),
  weight: z.number().int().min(1).max(MAX_INSTANCE_WEIGHT).optional(),
  zone: z.string().max(128).optional(),
  status: z.enum(['serving', 'draining']).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

type RegistrationFields = z.infer<typeof registrationFields>;

/**
 * The fields of a registration whose every field is plainly valid (nearly all of them), checked
 * by hand: zod costs about a microsecond a registration, a tenth of a second at start for 100,000
 * of them. Anything else (a missing or mistyped field, a value out of range) gives undefined, and
 * zod checks it and says what is wrong. Accepts only what registrationFields accepts, with the
 * same result (a property test compares the two).
 */
export function plainFields(body: unknown): RegistrationFields | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { name, id, version, address, weight, zone, status, metadata } = body as Record<string, unknown>;
  if (typeof name !== 'string' || typeof address !== 'string') return undefined;
  if (id !== undefined && (typeof id !== 'string' || id.length < 1 || id.length > 253)) return undefined;
  if (version !== undefined && typeof version !== 'string') return undefined;
  if (
    weight !== undefined &&
    !(
      typeof weight === 'number' &&
      Number.isSafeInteger(weight) &&
      weight >= 1 &&
      weight <= MAX_INSTANCE_WEIGHT
    )
  )
    return undefined;
  if (zone !== undefined && (typeof zone !== 'string' || zone.length > 128)) return undefined;
  if (status !== undefined && status !== 'serving' && status !== 'draining') return undefined;
  if (
    metadata !== undefined &&
    (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
  )
    return undefined;
  return {
    name,
    id,
    version,
    address,
    weight,
    zone,
    status,
    metadata: metadata as RegistrationFields['metadata'],
  };
}

/** A registration's fields, or zod's account of what is wrong with them. */
function registrationFieldsOf(
  body: unknown,
): { ok: true; fields: RegistrationFields } | { ok: false; error: string } {
  const plain = plainFields(body);
  if (plain !== undefined) return { ok: true, fields: plain };
  const parsed = registrationFields.safeParse(body);
  return parsed.success
    ? { ok: true, fields: parsed.data }
    : { ok: false, error: formatZodError(parsed.error) };
}

/** Parses the Go registrars' envelope `{"node": {...}}` or the flat form. */
export function parseInstance(key: string, value: Uint8Array | string): Result<Instance> {
  const bad = (message: string): Result<Instance> => fail(ErrorCode.BadRegistration, key, message);
  const decoded = decodeJsonValue(value, MAX_REGISTRATION_BYTES);
  if ('error' in decoded) return bad(decoded.error);
  const json = decoded.value;
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    return bad('value must be a JSON object');
  const envelope = json['node'];
  const body = envelope !== undefined && typeof envelope === 'object' && envelope !== null ? envelope : json;
  const parsed = registrationFieldsOf(body);
  if (!parsed.ok) return bad(parsed.error);
  const { fields } = parsed;

  const nameError = checkServiceName(fields.name);
  if (nameError) return bad(nameError);
  // An empty version is what some registrars write for "none"; treat it as absent.
  const version = fields.version === '' ? undefined : fields.version;
  if (version !== undefined) {
    const versionError = checkVersion(version);
    if (versionError) return bad(versionError);
  }
  const address = parseSocketAddress(fields.address);
  if ('error' in address) return bad(address.error);

  return ok({
    key,
    service: fields.name,
    id: fields.id ?? key.slice(key.lastIndexOf('/') + 1),
    version,
    address: address.address,
    weight: fields.weight ?? 1,
    zone: fields.zone ?? '',
    status: fields.status ?? 'serving',
    metadata: fields.metadata as JsonObject | undefined,
  });
}
