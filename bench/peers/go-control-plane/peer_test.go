package main

// End-to-end test: a throwaway etcd on 127.0.0.1, the peer serving from it, and a raw ADS
// client checking what the load generator relies on. Skipped when etcd is not installed.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

const etcdBinary = "/usr/bin/etcd"

func TestPeerServesEtcdEndpointsAndFileResources(t *testing.T) {
	etcdURL := startEtcd(t)
	kv := etcdClient(t, etcdURL)
	put := func(key, value string) {
		t.Helper()
		if _, err := kv.Put(context.Background(), "/services/"+key, value); err != nil {
			t.Fatal(err)
		}
	}
	put("svc-0/i-1", `{"name":"svc-0","id":"i-1","version":"v1","address":"10.0.0.1:8000"}`)
	put("svc-0/i-2", `{"node":{"name":"svc-0","id":"i-2","version":"v2","address":"10.0.0.2:8000"}}`)
	put("svc-0/i-3", `{"name":"svc-0","id":"i-3","version":"v1","address":"10.0.0.3:8000","weight":2,"zone":"z1"}`)
	put("svc-1/i-1", `{"name":"svc-1","id":"i-1","address":"10.0.1.1:8000"}`)
	put("svc-1/bad", `{"name":"svc-1","address":"svc-1.local:8000"}`)
	put("not-json", `{`)

	resources, packed := writeResources(t)
	target, _ := startPeer(t, config{etcd: []string{etcdURL}, prefix: "/services/", resources: resources, listen: "127.0.0.1:0"})
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	t.Run("EDS", func(t *testing.T) {
		ads := openADS(t, conn)
		ads.send(resource.EndpointType, "", "", "svc-0", "svc-0/v1")
		first := ads.recv(resource.EndpointType)
		assertCLAs(t, first, map[string]string{
			"svc-0": `{"clusterName":"svc-0","endpoints":[
				{"locality":{},"loadBalancingWeight":2,"lbEndpoints":[
					{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":8000}}},"loadBalancingWeight":1},
					{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":8000}}},"loadBalancingWeight":1}]},
				{"locality":{"zone":"z1","subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
					{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.3","portValue":8000}}},"loadBalancingWeight":2}]}]}`,
			"svc-0/v1": `{"clusterName":"svc-0/v1","endpoints":[
				{"locality":{},"loadBalancingWeight":1,"lbEndpoints":[
					{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":8000}}},"loadBalancingWeight":1}]},
				{"locality":{"zone":"z1","subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
					{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.3","portValue":8000}}},"loadBalancingWeight":2}]}]}`,
		})
		ads.ack(first, "svc-0", "svc-0/v1")
		ads.expectSilence(resource.EndpointType, 300*time.Millisecond)

		// A put on the open stream: both subscribed assignments contain the new instance.
		put("svc-0/i-4", `{"name":"svc-0","id":"i-4","version":"v1","address":"10.0.0.4:8000"}`)
		added := ads.recv(resource.EndpointType)
		if added.GetVersionInfo() == first.GetVersionInfo() {
			t.Errorf("version %q did not change", added.GetVersionInfo())
		}
		for name, cla := range decodeCLAs(t, added) {
			if !hasAddress(cla, "10.0.0.4") {
				t.Errorf("%s lacks 10.0.0.4 after the put: %v", name, cla)
			}
		}
		if got := slices.Sorted(maps.Keys(decodeCLAs(t, added))); !slices.Equal(got, []string{"svc-0", "svc-0/v1"}) {
			t.Errorf("after the put: resources %v", got)
		}
		ads.ack(added, "svc-0", "svc-0/v1")

		// A delete: the assignments go back to what they were.
		if _, err := kv.Delete(context.Background(), "/services/svc-0/i-4"); err != nil {
			t.Fatal(err)
		}
		removed := ads.recv(resource.EndpointType)
		for name, cla := range decodeCLAs(t, removed) {
			if !proto.Equal(cla, decodeCLAs(t, first)[name]) {
				t.Errorf("%s after the delete: %v", name, cla)
			}
		}
		ads.ack(removed, "svc-0", "svc-0/v1")

		// A change to svc-0/v2 only (not subscribed): only svc-0 is sent, the only changed one.
		put("svc-0/i-5", `{"name":"svc-0","id":"i-5","version":"v2","address":"10.0.0.5:8000"}`)
		v2only := ads.recv(resource.EndpointType)
		if got := slices.Sorted(maps.Keys(decodeCLAs(t, v2only))); !slices.Equal(got, []string{"svc-0"}) {
			t.Errorf("after a v2 put: resources %v, want [svc-0]", got)
		}
		ads.ack(v2only, "svc-0", "svc-0/v1")

		// A value that changes nothing (same content rewritten) sends nothing.
		put("svc-0/i-5", `{"name":"svc-0","id":"i-5","version":"v2","address":"10.0.0.5:8000"}`)
		ads.expectSilence(resource.EndpointType, 300*time.Millisecond)
	})

	t.Run("LDS, RDS and CDS from the resources file", func(t *testing.T) {
		ads := openADS(t, conn)
		ads.send(resource.ListenerType, "", "")
		wildcard := ads.recv(resource.ListenerType)
		assertResources(t, wildcard, packed[resource.ListenerType], "svc-0", "svc-1")
		if wildcard.GetVersionInfo() != snapshotVersion {
			t.Errorf("LDS version %q", wildcard.GetVersionInfo())
		}
		ads.ack(wildcard)

		named := openADS(t, conn)
		named.send(resource.ListenerType, "", "", "svc-1")
		assertResources(t, named.recv(resource.ListenerType), packed[resource.ListenerType], "svc-1")
		named.send(resource.RouteType, "", "", "svc-0")
		assertResources(t, named.recv(resource.RouteType), packed[resource.RouteType], "svc-0")
		named.send(resource.ClusterType, "", "", "svc-0", "svc-0/v1", "svc-0/v2")
		assertResources(t, named.recv(resource.ClusterType), packed[resource.ClusterType], "svc-0", "svc-0/v1", "svc-0/v2")
	})
}

// With -ads, go-control-plane's SnapshotCache holds a request naming some of the snapshot's
// resources forever: the reason -ads is off by default.
func TestSnapshotCacheInADSModeIgnoresRequestsForSomeResources(t *testing.T) {
	etcdURL := startEtcd(t)
	resources, packed := writeResources(t)
	target, _ := startPeer(t, config{etcd: []string{etcdURL}, prefix: "/services/", resources: resources, listen: "127.0.0.1:0", ads: true})
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ads := openADS(t, conn)
	ads.send(resource.ListenerType, "", "", "svc-0")
	ads.expectSilence(resource.ListenerType, time.Second)
	ads.send(resource.ListenerType, "", "", "svc-0", "svc-1")
	assertResources(t, ads.recv(resource.ListenerType), packed[resource.ListenerType], "svc-0", "svc-1")
}

// ---- helpers ------------------------------------------------------------------------------------

// startEtcd runs a single-member etcd on free loopback ports until the test ends.
func startEtcd(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		t.Skipf("%s not installed", etcdBinary)
	}
	dataDir := filepath.Join(t.TempDir(), "etcd")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	clientURL := "http://" + freeAddress(t)
	peerURL := "http://" + freeAddress(t)
	cmd := exec.Command(etcdBinary,
		"--name=default",
		"--data-dir="+dataDir,
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--log-level=error",
		"--logger=zap",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	kv := etcdClient(t, clientURL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := kv.Get(ctx, "/health")
		cancel()
		if err == nil {
			return clientURL
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func etcdClient(t *testing.T, url string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startPeer runs the peer in this process until the test ends, and returns its xDS address
// once it has printed "listening <port>".
func startPeer(t *testing.T, cfg config) (string, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reader, writer := io.Pipe()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	go func() {
		err := run(ctx, cfg, writer, logger)
		writer.CloseWithError(fmt.Errorf("peer stopped: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("peer: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("peer did not stop within 10 s")
		}
	})
	line, err := bufio.NewReader(reader).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var port int
	if _, err := fmt.Sscanf(line, "listening %d\n", &port); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, reader) }()
	return fmt.Sprintf("127.0.0.1:%d", port), done
}

// writeResources writes a -resources file of two listeners (with an HttpConnectionManager
// api_listener, as gRPC clients are served), one route configuration and three EDS clusters,
// and returns its path and the encoded Anys by type.
func writeResources(t *testing.T) (string, map[string]map[string][]byte) {
	t.Helper()
	pack := func(m proto.Message) []byte {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	listener := func(name string) *listenerv3.Listener {
		hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
			RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
				RouteConfigName: name,
				ConfigSource:    &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &listenerv3.Listener{Name: name, ApiListener: &listenerv3.ApiListener{ApiListener: hcm}}
	}
	cluster := func(name string) *clusterv3.Cluster {
		return &clusterv3.Cluster{
			Name:                 name,
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
				EdsConfig: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
			},
		}
	}
	packed := map[string]map[string][]byte{
		resource.ListenerType: {"svc-0": pack(listener("svc-0")), "svc-1": pack(listener("svc-1"))},
		resource.RouteType: {"svc-0": pack(&routev3.RouteConfiguration{Name: "svc-0", VirtualHosts: []*routev3.VirtualHost{{
			Name: "svc-0", Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: ""}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "svc-0"}}},
			}},
		}}})},
		resource.ClusterType: {"svc-0": pack(cluster("svc-0")), "svc-0/v1": pack(cluster("svc-0/v1")), "svc-0/v2": pack(cluster("svc-0/v2"))},
	}
	list := func(typeURL string) [][]byte {
		var out [][]byte
		for _, name := range slices.Sorted(maps.Keys(packed[typeURL])) {
			out = append(out, packed[typeURL][name])
		}
		return out
	}
	data, err := json.Marshal(resourceFile{Listeners: list(resource.ListenerType), Routes: list(resource.RouteType), Clusters: list(resource.ClusterType)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resources.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, packed
}

// adsStream is a raw state-of-the-world ADS client.
type adsStream struct {
	t         *testing.T
	stream    discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	responses chan *discoverygrpc.DiscoveryResponse
	sentNode  bool
}

func openADS(t *testing.T, conn *grpc.ClientConn) *adsStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &adsStream{t: t, stream: stream, responses: make(chan *discoverygrpc.DiscoveryResponse, 16)}
	go func() {
		defer close(a.responses)
		for {
			response, err := stream.Recv()
			if err != nil {
				return
			}
			a.responses <- response
		}
	}()
	return a
}

func (a *adsStream) send(typeURL, version, nonce string, names ...string) {
	a.t.Helper()
	request := &discoverygrpc.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names}
	if !a.sentNode {
		request.Node = &corev3.Node{Id: "peer-test", UserAgentName: "etcd-xds-bench"}
		a.sentNode = true
	}
	if err := a.stream.Send(request); err != nil {
		a.t.Fatal(err)
	}
}

func (a *adsStream) ack(response *discoverygrpc.DiscoveryResponse, names ...string) {
	a.t.Helper()
	a.send(response.GetTypeUrl(), response.GetVersionInfo(), response.GetNonce(), names...)
}

func (a *adsStream) recv(typeURL string) *discoverygrpc.DiscoveryResponse {
	a.t.Helper()
	select {
	case response, ok := <-a.responses:
		if !ok {
			a.t.Fatal("stream ended")
		}
		if response.GetTypeUrl() != typeURL {
			a.t.Fatalf("got a %s response, want %s", response.GetTypeUrl(), typeURL)
		}
		return response
	case <-time.After(5 * time.Second):
		a.t.Fatalf("no %s response within 5 s", typeURL)
	}
	return nil
}

func (a *adsStream) expectSilence(typeURL string, d time.Duration) {
	a.t.Helper()
	select {
	case response := <-a.responses:
		a.t.Fatalf("unexpected %s response version %q with %d resources", response.GetTypeUrl(), response.GetVersionInfo(), len(response.GetResources()))
	case <-time.After(d):
	}
}

func decodeCLAs(t *testing.T, response *discoverygrpc.DiscoveryResponse) map[string]*endpointv3.ClusterLoadAssignment {
	t.Helper()
	out := make(map[string]*endpointv3.ClusterLoadAssignment)
	for _, r := range response.GetResources() {
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := r.UnmarshalTo(cla); err != nil {
			t.Fatal(err)
		}
		out[cla.GetClusterName()] = cla
	}
	return out
}

func assertCLAs(t *testing.T, response *discoverygrpc.DiscoveryResponse, want map[string]string) {
	t.Helper()
	got := decodeCLAs(t, response)
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("resources %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, json := range want {
		assertCLA(t, got[name], json)
	}
}

// assertResources checks that a response holds exactly the named resources, each with the
// bytes it had in the resources file.
func assertResources(t *testing.T, response *discoverygrpc.DiscoveryResponse, packed map[string][]byte, names ...string) {
	t.Helper()
	var got []string
	for _, r := range response.GetResources() {
		message, err := r.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		name := message.(interface{ GetName() string }).GetName()
		got = append(got, name)
		var want anypb.Any
		if err := proto.Unmarshal(packed[name], &want); err != nil {
			t.Fatal(err)
		}
		if want.GetTypeUrl() != r.GetTypeUrl() || string(want.GetValue()) != string(r.GetValue()) {
			t.Errorf("%s: served bytes differ from the resources file", name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("%s resources %v, want %v", response.GetTypeUrl(), got, names)
	}
}

func hasAddress(cla *endpointv3.ClusterLoadAssignment, ip string) bool {
	for _, locality := range cla.GetEndpoints() {
		for _, endpoint := range locality.GetLbEndpoints() {
			if endpoint.GetEndpoint().GetAddress().GetSocketAddress().GetAddress() == ip {
				return true
			}
		}
	}
	return false
}
