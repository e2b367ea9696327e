// Command go-control-plane-peer is the benchmark peer of etcd-xds: an xDS server built on
// go-control-plane that serves the same resources as the TypeScript server, so the bench can
// time both with the same load generator in the same run.
//
// LDS, RDS and CDS come from a file of resources captured from the TypeScript server and sit in
// a SnapshotCache, shared by every node. EDS is built from the registrations in etcd, as the
// TypeScript server builds it, and sits in a LinearCache that every etcd watch response updates
// at once. A MuxCache routes each request to one of the two, and go-control-plane's server
// answers state-of-the-world ADS streams from it.
//
// Once the initial etcd list is in the cache and the server is listening, it prints one line,
// "listening <port>", to stdout. Logs go to stderr: errors only, unless -v.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// config is the command line.
type config struct {
	listen    string
	etcd      []string
	prefix    string
	resources string
	ads       bool
	verbose   bool
}

const (
	// initialListTimeout bounds the first etcd list: the peer fails instead of hanging when
	// etcd is unreachable (but a catalog of 1,000,000 instances takes tens of seconds).
	initialListTimeout = 10 * time.Minute
	// gracefulStopTimeout bounds how long shutdown waits for streams to end.
	gracefulStopTimeout = 2 * time.Second
	// Names of the two caches behind the MuxCache.
	snapshotCacheKey = "snapshot"
	linearCacheKey   = "linear"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-control-plane-peer: %v\n", err)
		os.Exit(2)
	}
	level := slog.LevelError
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, logger); err != nil {
		logger.Error("go-control-plane-peer failed", "err", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	flags := flag.NewFlagSet("go-control-plane-peer", flag.ContinueOnError)
	cfg := config{}
	var endpoints string
	flags.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "address of the gRPC xDS listener (port 0: any free port)")
	flags.StringVar(&endpoints, "etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	flags.StringVar(&cfg.prefix, "prefix", "/services/", "etcd prefix of the registrations")
	flags.StringVar(&cfg.resources, "resources", "", `JSON file {"listeners":[..],"routes":[..],"clusters":[..]} of base64 google.protobuf.Any (empty: serve no LDS/RDS/CDS resources)`)
	// The SnapshotCache's ADS mode answers a request naming resources only when the request
	// names every resource of that type in the snapshot, which a snapshot shared by all nodes
	// and holding many services never satisfies for a client asking for one service.
	flags.BoolVar(&cfg.ads, "ads", false, "create the SnapshotCache in ADS mode (only for resource files holding exactly what each client requests)")
	flags.BoolVar(&cfg.verbose, "v", false, "debug logs on stderr")
	if err := flags.Parse(args); err != nil {
		return cfg, err
	}
	if flags.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	for _, endpoint := range strings.Split(endpoints, ",") {
		if endpoint = strings.TrimSpace(endpoint); endpoint != "" {
			cfg.etcd = append(cfg.etcd, endpoint)
		}
	}
	if len(cfg.etcd) == 0 {
		return cfg, errors.New("-etcd names no endpoint")
	}
	if cfg.prefix == "" {
		return cfg, errors.New("-prefix must not be empty")
	}
	return cfg, nil
}

// constHash gives every node the same key: all clients share one snapshot.
type constHash struct{}

const sharedNodeKey = "all"

func (constHash) ID(*corev3.Node) string { return sharedNodeKey }

// run serves until ctx is done, then stops the server and returns.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *slog.Logger) error {
	cpLogger := controlPlaneLogger{logger}

	snapshot, counts, err := loadSnapshot(cfg.resources)
	if err != nil {
		return fmt.Errorf("resources: %w", err)
	}
	snapshots := cache.NewSnapshotCache(cfg.ads, constHash{}, cpLogger)
	if err := snapshots.SetSnapshot(ctx, sharedNodeKey, snapshot); err != nil {
		return fmt.Errorf("resources: %w", err)
	}
	logger.Debug("resources loaded", "listeners", counts["listeners"], "routes", counts["routes"], "clusters", counts["clusters"])
	endpoints := cache.NewLinearCache(resource.EndpointType, cache.WithLogger(cpLogger))
	mux := &cache.MuxCache{
		Classify: func(r *cache.Request) string { return cacheFor(r.GetTypeUrl()) },
		ClassifyDelta: func(r *cache.DeltaRequest) string {
			return cacheFor(r.GetTypeUrl())
		},
		Caches: map[string]cache.Cache{snapshotCacheKey: snapshots, linearCacheKey: endpoints},
	}

	// Bound before etcd is read: clients may connect at once and wait (in the listen backlog)
	// until serving starts with the endpoints loaded.
	listener, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	defer listener.Close()

	etcdLogger, err := etcdClientLogger(cfg.verbose)
	if err != nil {
		return err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.etcd,
		DialTimeout: 5 * time.Second,
		Logger:      etcdLogger,
	})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer client.Close()

	source := newEndpointSource(client, cfg.prefix, endpoints, logger)
	listCtx, cancelList := context.WithTimeout(ctx, initialListTimeout)
	err = source.load(listCtx)
	cancelList()
	if err != nil {
		return err
	}
	watchCtx, cancelWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		source.run(watchCtx)
	}()
	defer func() {
		cancelWatch()
		<-watching
	}()

	// Cancelling xdsCtx ends every open stream, which lets GracefulStop return.
	xdsCtx, cancelXDS := context.WithCancel(context.Background())
	defer cancelXDS()
	xds := server.NewServer(xdsCtx, mux, streamCallbacks(logger, cfg.verbose), sotw.WithLogger(cpLogger))
	grpcServer := grpc.NewServer(
		// The load generator multiplexes 100 streams on each HTTP/2 connection.
		grpc.MaxConcurrentStreams(1<<20),
		// Accept client keepalive pings as often as once a second, even between streams.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)
	served := make(chan error, 1)
	go func() { served <- grpcServer.Serve(listener) }()

	fmt.Fprintf(stdout, "listening %d\n", listener.Addr().(*net.TCPAddr).Port)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("gRPC server: %w", err)
	}
	logger.Debug("stopping")
	cancelXDS()
	stopped := make(chan struct{})
	go func() {
		grpcServer.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(gracefulStopTimeout):
		grpcServer.Stop()
		<-stopped
	}
	return nil
}

// cacheFor names the cache that answers requests of a type: EDS from etcd, the rest from the
// resources file.
func cacheFor(typeURL string) string {
	if typeURL == resource.EndpointType {
		return linearCacheKey
	}
	return snapshotCacheKey
}

// streamCallbacks logs streams opening and closing with -v; otherwise it does nothing, keeping
// the per-request path free of callbacks.
func streamCallbacks(logger *slog.Logger, verbose bool) server.Callbacks {
	if !verbose {
		return server.CallbackFuncs{}
	}
	return server.CallbackFuncs{
		StreamOpenFunc: func(_ context.Context, id int64, typeURL string) error {
			logger.Debug("stream open", "stream", id, "type", typeURL)
			return nil
		},
		StreamClosedFunc: func(id int64, node *corev3.Node) {
			logger.Debug("stream closed", "stream", id, "node", node.GetId())
		},
	}
}

// etcdClientLogger is the etcd client's zap logger: errors only, unless verbose.
func etcdClientLogger(verbose bool) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Encoding = "console"
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	cfg.Level = zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	if verbose {
		cfg.Level = zap.NewAtomicLevelAt(zapcore.InfoLevel)
	}
	return cfg.Build()
}

// controlPlaneLogger passes go-control-plane's logs to slog, formatting only what is enabled.
type controlPlaneLogger struct{ logger *slog.Logger }

func (l controlPlaneLogger) logf(level slog.Level, format string, args []any) {
	if l.logger.Enabled(context.Background(), level) {
		l.logger.Log(context.Background(), level, fmt.Sprintf(format, args...), "from", "go-control-plane")
	}
}

func (l controlPlaneLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args) }
func (l controlPlaneLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args) }
func (l controlPlaneLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args) }
func (l controlPlaneLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args) }
