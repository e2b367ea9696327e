package main

// endpointSource keeps the LinearCache's ClusterLoadAssignments in step with etcd: it lists the
// prefix at one revision, then watches from the next revision, and hands every watch response
// to the cache as one batch, without debouncing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// listPageSize bounds each range request of a listing, keeping responses far below gRPC's
// message size limit however many instances there are (10,000 registrations are ~2 MB). Not
// smaller: etcd counts the rest of the range for every page, so small pages make a list
// quadratic (1,000,000 keys in pages of 1,000 took over a minute; etcd-xds reads 10,000 too).
const listPageSize = 10000

type endpointSource struct {
	client *clientv3.Client
	prefix string
	cache  *cache.LinearCache
	log    *slog.Logger

	// Owned by the goroutine that loads and then runs the source.
	catalog *catalog
	// revision is the etcd revision the catalog reflects.
	revision int64
	// published is the deterministic encoding of each assignment last given to the cache, by
	// cluster name; an assignment whose encoding did not change is not given again, so its
	// version stays and no stream is sent an identical copy.
	published map[string][]byte
	// clustersOf is the cluster names published for each service.
	clustersOf map[string][]string
}

func newEndpointSource(client *clientv3.Client, prefix string, c *cache.LinearCache, log *slog.Logger) *endpointSource {
	return &endpointSource{
		client:     client,
		prefix:     prefix,
		cache:      c,
		log:        log,
		catalog:    newCatalog(),
		published:  make(map[string][]byte),
		clustersOf: make(map[string][]string),
	}
}

// load lists the prefix and publishes every assignment. Called once, before serving.
func (s *endpointSource) load(ctx context.Context) error {
	listed, revision, err := s.list(ctx)
	if err != nil {
		return err
	}
	s.catalog, s.revision = listed, revision
	services := make(map[string]struct{})
	listed.services(services)
	s.log.Debug("initial list loaded", "revision", revision, "instances", len(listed.byKey), "services", len(services))
	return s.publish(services)
}

// run watches etcd until ctx is done. A watch that fails (compaction, leader loss, a cancel
// from etcd) is replaced by a fresh list and a watch from that list's revision.
func (s *endpointSource) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := s.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Error("etcd watch ended; re-listing", "revision", s.revision, "err", err)
		for {
			if !sleep(ctx, backoff) {
				return
			}
			if err := s.resync(ctx); err != nil {
				s.log.Error("re-listing etcd failed", "err", err)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			break
		}
	}
}

// watch applies the changes after s.revision until the watch breaks or ctx is done.
func (s *endpointSource) watch(ctx context.Context) error {
	watchCtx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	changes := s.client.Watch(watchCtx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(s.revision+1))
	for response := range changes {
		if err := response.Err(); err != nil {
			return err
		}
		if response.IsProgressNotify() {
			continue
		}
		touched := make(map[string]struct{})
		for _, event := range response.Events {
			key := string(event.Kv.Key)
			switch event.Type {
			case clientv3.EventTypePut:
				if err := s.catalog.put(key, event.Kv.Value, touched); err != nil {
					s.log.Error("skipping registration", "key", key, "err", err)
				}
			case clientv3.EventTypeDelete:
				s.catalog.remove(key, touched)
			}
		}
		s.revision = response.Header.Revision
		if err := s.publish(touched); err != nil {
			s.log.Error("updating the endpoint cache", "revision", s.revision, "err", err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("watch channel closed")
}

// resync replaces the catalog with a fresh list, publishing what changed.
func (s *endpointSource) resync(ctx context.Context) error {
	listed, revision, err := s.list(ctx)
	if err != nil {
		return err
	}
	services := make(map[string]struct{})
	s.catalog.services(services)
	listed.services(services)
	s.catalog, s.revision = listed, revision
	return s.publish(services)
}

// list reads every registration under the prefix at one revision, page by page.
func (s *endpointSource) list(ctx context.Context) (*catalog, int64, error) {
	listed := newCatalog()
	end := clientv3.GetPrefixRangeEnd(s.prefix)
	from := s.prefix
	var revision int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPageSize)}
		if revision != 0 {
			opts = append(opts, clientv3.WithRev(revision))
		}
		page, err := s.client.Get(ctx, from, opts...)
		if err != nil {
			return nil, 0, fmt.Errorf("listing %s: %w", s.prefix, err)
		}
		if revision == 0 {
			revision = page.Header.Revision
		}
		touched := make(map[string]struct{})
		for _, kv := range page.Kvs {
			if err := listed.put(string(kv.Key), kv.Value, touched); err != nil {
				s.log.Error("skipping registration", "key", string(kv.Key), "err", err)
			}
		}
		if !page.More || len(page.Kvs) == 0 {
			return listed, revision, nil
		}
		from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
	}
}

// publish recomputes the assignments of the given services and gives the cache, in one
// UpdateResources call, those that changed and the deletions of those that no longer exist.
func (s *endpointSource) publish(services map[string]struct{}) error {
	toUpdate := make(map[string]types.Resource)
	var toDelete []string
	marshal := proto.MarshalOptions{Deterministic: true}
	for service := range services {
		clusters := s.catalog.clusters(service)
		for _, name := range s.clustersOf[service] {
			if _, ok := clusters[name]; !ok {
				toDelete = append(toDelete, name)
				delete(s.published, name)
			}
		}
		if len(clusters) == 0 {
			delete(s.clustersOf, service)
			continue
		}
		names := make([]string, 0, len(clusters))
		for name, assignment := range clusters {
			names = append(names, name)
			encoded, err := marshal.Marshal(assignment)
			if err != nil {
				return fmt.Errorf("encoding %s: %w", name, err)
			}
			if previous, ok := s.published[name]; ok && bytes.Equal(previous, encoded) {
				continue
			}
			s.published[name] = encoded
			toUpdate[name] = assignment
		}
		s.clustersOf[service] = names
	}
	if len(toUpdate) == 0 && len(toDelete) == 0 {
		return nil
	}
	s.log.Debug("updating endpoints", "revision", s.revision, "updated", len(toUpdate), "deleted", len(toDelete))
	return s.cache.UpdateResources(toUpdate, toDelete)
}

// sleep waits for d, or returns false as soon as ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
