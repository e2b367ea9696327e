package main

// The registered instances and the ClusterLoadAssignments built from them, laid out exactly as
// the TypeScript server lays out its round-robin ("grpc" flavour) assignments
// (src/translate/grpc/cluster-load-assignment.ts), so both servers send the same bytes.

import (
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// catalog holds the accepted registrations under the prefix, by etcd key and by service.
type catalog struct {
	byKey     map[string]*instance
	byService map[string]map[string]*instance
}

func newCatalog() *catalog {
	return &catalog{
		byKey:     make(map[string]*instance),
		byService: make(map[string]map[string]*instance),
	}
}

// put replaces whatever key held with the registration in value, adding every service whose
// instances changed to touched. A value that is not a valid registration removes the key's
// previous instance and is reported as an error.
func (c *catalog) put(key string, value []byte, touched map[string]struct{}) error {
	c.remove(key, touched)
	inst, err := parseInstance(key, value)
	if err != nil {
		return err
	}
	c.byKey[key] = inst
	members := c.byService[inst.service]
	if members == nil {
		members = make(map[string]*instance)
		c.byService[inst.service] = members
	}
	members[key] = inst
	touched[inst.service] = struct{}{}
	return nil
}

// remove forgets the instance registered under key, if any.
func (c *catalog) remove(key string, touched map[string]struct{}) {
	old, ok := c.byKey[key]
	if !ok {
		return
	}
	delete(c.byKey, key)
	members := c.byService[old.service]
	delete(members, key)
	if len(members) == 0 {
		delete(c.byService, old.service)
	}
	touched[old.service] = struct{}{}
}

// services adds the name of every service that has an instance to set.
func (c *catalog) services(set map[string]struct{}) {
	for service := range c.byService {
		set[service] = struct{}{}
	}
}

// clusters returns the assignments of a service by cluster name: S with every instance and
// S/<version> for each version that has one. Nil when the service has no instance.
func (c *catalog) clusters(service string) map[string]*endpointv3.ClusterLoadAssignment {
	members := c.byService[service]
	if len(members) == 0 {
		return nil
	}
	// In key order, the first registration of an address wins; later ones are shadowed, as
	// clients reject an assignment listing one address twice.
	keys := make([]string, 0, len(members))
	for key := range members {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, compareStrings)
	seen := make(map[string]struct{}, len(keys))
	all := make([]*instance, 0, len(keys))
	byVersion := make(map[string][]*instance)
	for _, key := range keys {
		inst := members[key]
		if _, dup := seen[inst.address]; dup {
			continue
		}
		seen[inst.address] = struct{}{}
		all = append(all, inst)
		if inst.version != "" {
			byVersion[inst.version] = append(byVersion[inst.version], inst)
		}
	}
	out := make(map[string]*endpointv3.ClusterLoadAssignment, 1+len(byVersion))
	out[service] = clusterLoadAssignment(service, all)
	for version, instances := range byVersion {
		name := service + "/" + version
		out[name] = clusterLoadAssignment(name, instances)
	}
	return out
}

// localityGroup is the instances of one (zone, sub_zone) locality.
type localityGroup struct {
	zone, subZone string
	// weight is the sum of the instances' weights.
	weight    uint32
	instances []*instance
}

// clusterLoadAssignment lays instances out for round-robin clients, which split traffic by
// locality weight and ignore endpoint weights: instances are grouped by (zone, weight), with
// sub_zone "weight-<w>" for w != 1, and each locality weighs the sum of its instances' weights.
// Localities are ordered by zone then sub_zone, endpoints by "ip:port".
func clusterLoadAssignment(name string, instances []*instance) *endpointv3.ClusterLoadAssignment {
	groups := make(map[[2]string]*localityGroup)
	ordered := make([]*localityGroup, 0, 1)
	for _, inst := range instances {
		subZone := ""
		if inst.weight != 1 {
			subZone = "weight-" + strconv.FormatUint(uint64(inst.weight), 10)
		}
		key := [2]string{inst.zone, subZone}
		group := groups[key]
		if group == nil {
			group = &localityGroup{zone: inst.zone, subZone: subZone}
			groups[key] = group
			ordered = append(ordered, group)
		}
		group.instances = append(group.instances, inst)
		group.weight += inst.weight
	}
	slices.SortFunc(ordered, func(a, b *localityGroup) int {
		if c := compareStrings(a.zone, b.zone); c != 0 {
			return c
		}
		return compareStrings(a.subZone, b.subZone)
	})

	cla := &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints:   make([]*endpointv3.LocalityLbEndpoints, 0, len(ordered)),
	}
	for _, group := range ordered {
		members := slices.Clone(group.instances)
		slices.SortFunc(members, func(a, b *instance) int { return compareStrings(a.address, b.address) })
		endpoints := make([]*endpointv3.LbEndpoint, 0, len(members))
		for _, inst := range members {
			endpoints = append(endpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{
					Endpoint: &endpointv3.Endpoint{
						Address: &corev3.Address{
							Address: &corev3.Address_SocketAddress{
								SocketAddress: &corev3.SocketAddress{
									Address:       inst.ip,
									PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: inst.port},
								},
							},
						},
					},
				},
				LoadBalancingWeight: wrapperspb.UInt32(inst.weight),
			})
		}
		cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{
			// Always present, empty fields left out: the canonical proto3 encoding.
			Locality: &corev3.Locality{Zone: group.zone, SubZone: group.subZone},
			// Clients drop a locality without a weight: every locality carries one.
			LoadBalancingWeight: wrapperspb.UInt32(group.weight),
			LbEndpoints:         endpoints,
		})
	}
	return cla
}
