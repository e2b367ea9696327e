// The stable names of the xDS resources etcd-xds produces (documented in the README).

/** Listener and RouteConfiguration of a service: its name, as in `xds:///<service>`. */
export function listenerName(service: string): string {
  return service;
}

export function routeConfigurationName(service: string): string {
  return service;
}

/** The cluster (and its ClusterLoadAssignment) holding every instance of a service. */
export function serviceClusterName(service: string): string {
  return service;
}

/** The cluster (and its ClusterLoadAssignment) holding the instances of one version. */
export function versionClusterName(service: string, version: string): string {
  return `${service}/${version}`;
}

/**
 * gRPC clients dialling `xds:///app:50051` ask for the listener `app:50051`. Returns the service
 * such a name refers to, or undefined when the name is not `<service>:<port>`.
 */
export function serviceOfListenerAlias(name: string): string | undefined {
  const match = /^(.+):(\d{1,5})$/.exec(name);
  if (match === null) return undefined;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? match[1] : undefined;
}

/**
 * The resource a requested name stands for: `app` for listener `app:50051`, otherwise the name.
 * Streams are indexed by canonical name so a change to `app` reaches `app:50051` subscribers.
 */
export function canonicalName(type: { readonly short: string }, name: string): string {
  return type.short === 'LDS' ? (serviceOfListenerAlias(name) ?? name) : name;
}
