// The HTTP filters every listener etcd-xds builds carries, for gRPC clients and Envoy alike.
import type { HttpFilter } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter';
import { packAny } from './any';

export const HCM_MESSAGE =
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const FAULT_MESSAGE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
export const ROUTER_MESSAGE = 'envoy.extensions.filters.http.router.v3.Router';
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

let filters: readonly HttpFilter[] | undefined;

/**
 * The fault filter does nothing by itself; routes that must fail calls with UNAVAILABLE override
 * it per route (gRFC A33). Clients require the router filter last. The same two filters in every
 * listener: packed once per process.
 */
export function httpFilters(): readonly HttpFilter[] {
  filters ??= Object.freeze([
    Object.freeze({ name: FAULT_FILTER_NAME, typed_config: packAny(FAULT_MESSAGE, {}) }),
    Object.freeze({ name: ROUTER_FILTER_NAME, typed_config: packAny(ROUTER_MESSAGE, {}) }),
  ]);
  return filters;
}
