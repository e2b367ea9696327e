package main

// The listeners, route configurations and clusters the peer serves unchanged: captured from the
// TypeScript server by the bench harness, so LDS, RDS and CDS carry the same content on both.

import (
	"encoding/json"
	"fmt"
	"os"

	// The top-level resource types, registered with the protobuf registry on import.
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// Types packed in Anys inside those resources. They stay opaque bytes in the served
	// resources, but registering them lets debug tooling and future code resolve them.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// resourceFile is the -resources file: each element is a base64-encoded google.protobuf.Any.
// encoding/json decodes base64 strings into []byte.
type resourceFile struct {
	Listeners [][]byte `json:"listeners"`
	Routes    [][]byte `json:"routes"`
	Clusters  [][]byte `json:"clusters"`
}

// snapshotVersion is the version_info of every LDS, RDS and CDS response: they never change.
const snapshotVersion = "1"

// loadSnapshot reads the -resources file into a snapshot holding its listeners, route
// configurations and clusters. An empty path gives an empty snapshot.
func loadSnapshot(path string) (*cache.Snapshot, map[string]int, error) {
	var file resourceFile
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(data, &file); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	resources := make(map[resource.Type][]types.Resource)
	counts := make(map[string]int)
	for _, kind := range []struct {
		field   string
		typeURL string
		items   [][]byte
		check   func(proto.Message) bool
	}{
		{"listeners", resource.ListenerType, file.Listeners, func(m proto.Message) bool { _, ok := m.(*listenerv3.Listener); return ok }},
		{"routes", resource.RouteType, file.Routes, func(m proto.Message) bool { _, ok := m.(*routev3.RouteConfiguration); return ok }},
		{"clusters", resource.ClusterType, file.Clusters, func(m proto.Message) bool { _, ok := m.(*clusterv3.Cluster); return ok }},
	} {
		for i, encoded := range kind.items {
			var packed anypb.Any
			if err := proto.Unmarshal(encoded, &packed); err != nil {
				return nil, nil, fmt.Errorf("%s[%d]: not a google.protobuf.Any: %w", kind.field, i, err)
			}
			if packed.GetTypeUrl() != kind.typeURL {
				return nil, nil, fmt.Errorf("%s[%d]: type %q, want %q", kind.field, i, packed.GetTypeUrl(), kind.typeURL)
			}
			message, err := anypb.UnmarshalNew(&packed, proto.UnmarshalOptions{})
			if err != nil || !kind.check(message) {
				return nil, nil, fmt.Errorf("%s[%d]: cannot decode %s: %v", kind.field, i, kind.typeURL, err)
			}
			if cache.GetResourceName(message) == "" {
				return nil, nil, fmt.Errorf("%s[%d]: the resource has no name", kind.field, i)
			}
			resources[kind.typeURL] = append(resources[kind.typeURL], message)
		}
		counts[kind.field] = len(kind.items)
	}
	snapshot, err := cache.NewSnapshot(snapshotVersion, resources)
	return snapshot, counts, err
}
