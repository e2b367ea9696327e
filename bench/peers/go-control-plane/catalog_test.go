package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func TestParseInstanceAcceptsFlatAndEnvelopeForms(t *testing.T) {
	flat, err := parseInstance("/services/svc-0/i-3", []byte(`{"name":"svc-0","id":"i-3","version":"v2","address":"10.0.0.4:8000","weight":3,"zone":"z1","ttl":30}`))
	if err != nil {
		t.Fatal(err)
	}
	want := instance{key: "/services/svc-0/i-3", service: "svc-0", version: "v2", ip: "10.0.0.4", port: 8000, address: "10.0.0.4:8000", weight: 3, zone: "z1"}
	if *flat != want {
		t.Errorf("flat: got %+v, want %+v", *flat, want)
	}

	envelope, err := parseInstance("/services/a/1", []byte(`{"node":{"name":"a","id":"1","version":"","address":"[::1]:9"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want = instance{key: "/services/a/1", service: "a", ip: "::1", port: 9, address: "[::1]:9", weight: 1}
	if *envelope != want {
		t.Errorf("envelope: got %+v, want %+v", *envelope, want)
	}
}

func TestParseInstanceRejectsWhatTheTypeScriptServerRejects(t *testing.T) {
	for _, value := range []string{
		`not json`,
		`[1]`,
		`null`,
		`{"address":"10.0.0.1:80"}`,
		`{"name":null,"address":"10.0.0.1:80"}`,
		`{"name":"-bad","address":"10.0.0.1:80"}`,
		`{"name":"a/b","address":"10.0.0.1:80"}`,
		`{"name":"a"}`,
		`{"name":"a","address":"10.0.0.1"}`,
		`{"name":"a","address":"10.0.0.1:0"}`,
		`{"name":"a","address":"10.0.0.1:65536"}`,
		`{"name":"a","address":"10.0.0.1:+80"}`,
		`{"name":"a","address":"host.example:80"}`,
		`{"name":"a","address":"010.0.0.1:80"}`,
		`{"name":"a","address":"0.0.0.0:80"}`,
		`{"name":"a","address":"::1:80"}`,
		`{"name":"a","address":"[10.0.0.1]:80"}`,
		`{"name":"a","address":"[::]:80"}`,
		`{"name":"a","address":"10.0.0.1:80","weight":0}`,
		`{"name":"a","address":"10.0.0.1:80","weight":1.5}`,
		`{"name":"a","address":"10.0.0.1:80","weight":10001}`,
		`{"name":"a","address":"10.0.0.1:80","weight":"2"}`,
		`{"name":"a","address":"10.0.0.1:80","version":"v 1"}`,
		`{"name":"a","address":"10.0.0.1:80","zone":7}`,
		`{"name":"a","address":"10.0.0.1:80","zone":"` + strings.Repeat("z", 129) + `"}`,
		`{"name":"a","address":"10.0.0.1:80","id":""}`,
		`{"name":"a","address":"10.0.0.1:80","metadata":[]}`,
		`{"node":[{"name":"a","address":"10.0.0.1:80"}]}`,
		"{\"name\":\"a\",\"address\":\"10.0.0.1:80\",\"zone\":\"\xff\"}",
	} {
		if inst, err := parseInstance("/services/k", []byte(value)); err == nil {
			t.Errorf("%s: accepted as %+v", value, *inst)
		}
	}
}

func TestCompareStringsUsesUTF16Order(t *testing.T) {
	// U+1F600 is after U+FF5E in UTF-8 byte order, before it in UTF-16 (0xD83D < 0xFF5E).
	if compareStrings("\U0001F600", "\uFF5E") >= 0 {
		t.Error("supplementary character ordered after U+FF5E")
	}
	if compareStrings("a", "ab") >= 0 || compareStrings("b", "ab") <= 0 || compareStrings("x", "x") != 0 {
		t.Error("ASCII order broken")
	}
}

func TestClustersLayOutLocalitiesAndEndpointsLikeTheTypeScriptServer(t *testing.T) {
	c := newCatalog()
	touched := map[string]struct{}{}
	for key, value := range map[string]string{
		"/services/svc-0/a": `{"name":"svc-0","version":"v1","address":"10.0.0.9:80"}`,
		"/services/svc-0/b": `{"name":"svc-0","version":"v1","address":"10.0.0.10:80","zone":"z2"}`,
		"/services/svc-0/c": `{"name":"svc-0","version":"v2","address":"10.0.0.2:80","weight":2}`,
		"/services/svc-0/d": `{"name":"svc-0","address":"10.0.0.1:80"}`,
		"/services/svc-0/e": `{"name":"svc-0","version":"v2","address":"10.0.0.3:80","weight":2,"zone":"z2"}`,
		// Same address as a, later key: shadowed.
		"/services/svc-0/f": `{"name":"svc-0","version":"v3","address":"10.0.0.9:80"}`,
		"/services/other/a": `{"name":"other","address":"10.0.0.9:80"}`,
	} {
		if err := c.put(key, []byte(value), touched); err != nil {
			t.Fatal(key, err)
		}
	}
	clusters := c.clusters("svc-0")
	if len(clusters) != 3 {
		t.Fatalf("clusters %v, want svc-0, svc-0/v1, svc-0/v2", slices.Sorted(maps.Keys(clusters)))
	}
	assertCLA(t, clusters["svc-0"], `{"clusterName":"svc-0","endpoints":[
		{"locality":{},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}},"loadBalancingWeight":1},
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.9","portValue":80}}},"loadBalancingWeight":1}]},
		{"locality":{"subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":80}}},"loadBalancingWeight":2}]},
		{"locality":{"zone":"z2"},"loadBalancingWeight":1,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.10","portValue":80}}},"loadBalancingWeight":1}]},
		{"locality":{"zone":"z2","subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.3","portValue":80}}},"loadBalancingWeight":2}]}]}`)
	assertCLA(t, clusters["svc-0/v2"], `{"clusterName":"svc-0/v2","endpoints":[
		{"locality":{"subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":80}}},"loadBalancingWeight":2}]},
		{"locality":{"zone":"z2","subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.3","portValue":80}}},"loadBalancingWeight":2}]}]}`)

	// Two instances of one locality: the weight is their sum, endpoints by address string.
	c.put("/services/svc-0/g", []byte(`{"name":"svc-0","version":"v2","address":"10.0.0.11:80","weight":2}`), touched)
	assertCLA(t, c.clusters("svc-0")["svc-0/v2"], `{"clusterName":"svc-0/v2","endpoints":[
		{"locality":{"subZone":"weight-2"},"loadBalancingWeight":4,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.11","portValue":80}}},"loadBalancingWeight":2},
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":80}}},"loadBalancingWeight":2}]},
		{"locality":{"zone":"z2","subZone":"weight-2"},"loadBalancingWeight":2,"lbEndpoints":[
			{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.3","portValue":80}}},"loadBalancingWeight":2}]}]}`)

	// Deleting the shadowing key brings the shadowed one in, with its version.
	c.remove("/services/svc-0/a", touched)
	if _, ok := c.clusters("svc-0")["svc-0/v3"]; !ok {
		t.Error("svc-0/v3 missing after its address was freed")
	}
	// A bad value replaces (removes) the key's previous instance.
	if err := c.put("/services/other/a", []byte(`{}`), touched); err == nil {
		t.Error("bad value accepted")
	}
	if c.clusters("other") != nil {
		t.Error("other still has clusters")
	}
}

func assertCLA(t *testing.T, got *endpointv3.ClusterLoadAssignment, wantJSON string) {
	t.Helper()
	want := &endpointv3.ClusterLoadAssignment{}
	if err := protojson.Unmarshal([]byte(wantJSON), want); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", protojson.Format(got), protojson.Format(want))
	}
}
