// The Listener a proxyless gRPC client asks for when it dials xds:///<service>: an API listener
// whose HttpConnectionManager fetches the service's RouteConfiguration over ADS.
import type { Listener } from '../../generated/envoy/config/listener/v3/Listener';
import { encodeFromObject } from '../../proto/proto-root';
import { ByteWriter, delimitedFieldSize as field, utf8Length, varintSize } from '../../proto/wire';
import { TYPE_URL_PREFIX } from '../../proto/xds-types';
import { packAny } from '../any';
import { HCM_MESSAGE, httpFilters } from '../filters';
import { routeConfigurationName } from '../resource-names';

const CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;

/**
 * @param name the name the client asked for: `<service>` or `<service>:<port>`.
 */
export function grpcListener(name: string, service: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: packAny(HCM_MESSAGE, {
        stat_prefix: service,
        rds: { config_source: CONFIG_SOURCE, route_config_name: routeConfigurationName(service) },
        http_filters: httpFilters(),
      }),
    },
  };
}

const HCM_URL = TYPE_URL_PREFIX + HCM_MESSAGE;
/** Listener.api_listener is field 19, length-delimited: its tag takes two bytes as a varint. */
const API_LISTENER_TAG = (19 << 3) | 2;

/** The parts every gRPC listener shares, encoded once by protobufjs. */
let shared: { readonly configSource: Uint8Array; readonly filters: Uint8Array } | undefined;

function sharedParts(): NonNullable<typeof shared> {
  if (shared === undefined) {
    shared = {
      configSource: encodeFromObject('envoy.config.core.v3.ConfigSource', CONFIG_SOURCE),
      // HttpConnectionManager's http_filters field (5) alone: it comes last of the fields set.
      filters: encodeFromObject(HCM_MESSAGE, { http_filters: httpFilters() }),
    };
  }
  return shared;
}

/**
 * The bytes protobufjs gives for grpcListener(name, service), written directly: a catalog of
 * 100,000 services builds 100,000 listeners at start, and building each as a message (with its
 * HttpConnectionManager packed by protobufjs) cost ten microseconds a listener. Every listener
 * differs only in three strings; the rest is encoded once. A property test compares the bytes.
 */
export function encodeGrpcListener(name: string, service: string): Uint8Array {
  const { configSource, filters } = sharedParts();
  const nameLength = utf8Length(name);
  const prefixLength = utf8Length(service);
  const routeName = routeConfigurationName(service);
  const routeLength = utf8Length(routeName);
  const rdsSize = field(configSource.length) + field(routeLength);
  const hcmSize = field(prefixLength) + field(rdsSize) + filters.length;
  const anySize = field(HCM_URL.length) + field(hcmSize);
  const apiListenerSize = field(anySize);
  const apiListenerField = varintSize(API_LISTENER_TAG) + varintSize(apiListenerSize) + apiListenerSize;
  const out = new ByteWriter(field(nameLength) + apiListenerField);
  out.tag(0x0a).varint(nameLength).string(name, nameLength);
  out.varint(API_LISTENER_TAG).varint(apiListenerSize);
  out.tag(0x0a).varint(anySize); // ApiListener.api_listener: google.protobuf.Any
  out.tag(0x0a).varint(HCM_URL.length).string(HCM_URL, HCM_URL.length);
  out.tag(0x12).varint(hcmSize);
  out.tag(0x12).varint(prefixLength).string(service, prefixLength); // stat_prefix
  out.tag(0x1a).varint(rdsSize); // rds
  out.tag(0x0a).varint(configSource.length).bytes(configSource);
  out.tag(0x12).varint(routeLength).string(routeName, routeLength);
  return out.bytes(filters).finish();
}
