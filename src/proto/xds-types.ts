// The xDS resource types etcd-xds serves, as data: their URLs, messages and send order.

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export interface XdsType {
  /** Short name used in logs, metrics and /debug output. */
  readonly short: 'CDS' | 'EDS' | 'LDS' | 'RDS';
  readonly messageName: string;
  readonly typeUrl: string;
  /**
   * State-of-the-world responses of this type must list every subscribed resource (omission
   * means deletion). For the other types a response may carry only what changed.
   */
  readonly fullState: boolean;
}

function xdsType(short: XdsType['short'], messageName: string, fullState: boolean): XdsType {
  return { short, messageName, typeUrl: TYPE_URL_PREFIX + messageName, fullState };
}

export const CLUSTER = xdsType('CDS', 'envoy.config.cluster.v3.Cluster', true);
export const ENDPOINT = xdsType('EDS', 'envoy.config.endpoint.v3.ClusterLoadAssignment', false);
export const LISTENER = xdsType('LDS', 'envoy.config.listener.v3.Listener', true);
export const ROUTE = xdsType('RDS', 'envoy.config.route.v3.RouteConfiguration', false);

/**
 * The order in which changed types are pushed: a cluster is known before its endpoints, and a
 * listener before its route configuration, so no client ever references something it lacks.
 */
export const PUSH_ORDER: readonly XdsType[] = [CLUSTER, ENDPOINT, LISTENER, ROUTE];

const byUrl = new Map(PUSH_ORDER.map((type) => [type.typeUrl, type]));

export function xdsTypeByUrl(typeUrl: string): XdsType | undefined {
  return byUrl.get(typeUrl);
}
