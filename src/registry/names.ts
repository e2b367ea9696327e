// What a service name, version, header name and caller label may look like, shared by registrations,
// policies and the bootstrap command.

/** Service names become `xds:///<service>` targets and resource names; `/` and `:` are separators there. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?$/;

/** Versions travel in a request header and in cluster names (`<service>/<version>`). */
export const VERSION_PATTERN = /^[A-Za-z0-9._+~-]{1,128}$/;

/** Lower-case HTTP/2 header names that gRPC clients will match on (no `-bin`, no `grpc-`, no pseudo-headers). */
const HEADER_NAME_PATTERN = /^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

export function checkServiceName(name: string): string | undefined {
  if (!SERVICE_NAME_PATTERN.test(name)) {
    return `service name ${JSON.stringify(name)} must be 1-253 characters of [A-Za-z0-9._-], starting and ending with a letter, digit or _`;
  }
  return undefined;
}

export function checkVersion(version: string): string | undefined {
  if (!VERSION_PATTERN.test(version)) {
    return `version ${JSON.stringify(version)} must be 1-128 characters of [A-Za-z0-9._+~-]`;
  }
  return undefined;
}

export function checkHeaderName(name: string): string | undefined {
  if (!HEADER_NAME_PATTERN.test(name)) {
    return `header name ${JSON.stringify(name)} must be a lower-case HTTP header name`;
  }
  // gRPC clients never match on these (A28): a route using them would silently never apply.
  if (name.endsWith('-bin'))
    return `header name ${JSON.stringify(name)}: binary (-bin) headers cannot be matched`;
  if (name.startsWith('grpc-')) return `header name ${JSON.stringify(name)}: grpc- headers are reserved`;
  return undefined;
}

/** Caller label keys (node metadata fields a policy may match on, contract §7). */
const LABEL_KEY_PATTERN = /^[A-Za-z0-9._-]{1,63}$/;
/** Caller label values: printable ASCII. */
const LABEL_VALUE_PATTERN = /^[\x20-\x7e]{0,253}$/;

export function checkLabelKey(key: string): string | undefined {
  if (!LABEL_KEY_PATTERN.test(key)) {
    return `label key ${JSON.stringify(key)} must be 1-63 characters of [A-Za-z0-9._-]`;
  }
  return undefined;
}

export function checkLabelValue(key: string, value: string): string | undefined {
  if (!LABEL_VALUE_PATTERN.test(value)) {
    return `label ${JSON.stringify(key)}: value ${JSON.stringify(value)} must be 0-253 printable ASCII characters`;
  }
  return undefined;
}
