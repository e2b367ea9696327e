// Where the third-party xDS protos come from, and which of them etcd-xds uses.
import * as path from 'node:path';

// The protos ship inside @grpc/grpc-js-xds (deps/); we load them from node_modules rather than
// vendoring them, so they always match the client library we test against.
const XDS_PACKAGE_DIR = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

export const PROTO_INCLUDE_DIRS: readonly string[] = [
  'deps/envoy-api',
  'deps/xds',
  'deps/googleapis',
  'deps/protoc-gen-validate',
].map((dir) => path.join(XDS_PACKAGE_DIR, dir));

/** Entry files: everything etcd-xds encodes or decodes is reachable from these. */
export const PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  'envoy/service/listener/v3/lds.proto',
  'envoy/service/route/v3/rds.proto',
  'envoy/service/cluster/v3/cds.proto',
  'envoy/service/endpoint/v3/eds.proto',
];
