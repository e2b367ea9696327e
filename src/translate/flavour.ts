// The client flavours: what a client can consume, one input of its view (see view.ts).

/**
 * - `grpc`: proxyless gRPC clients (grpc-js, older grpc-go and grpc-java, unknown clients).
 * - `grpc-least-request`: gRPC clients that implement the LEAST_REQUEST cluster policy (gRFC A48)
 *   by default: grpc-go 1.73 and later, grpc-java 1.74 and later. Others reject such a cluster
 *   (grpc-js 1.14 and C-core 1.51/1.85 NACK it, measured), so they get round robin instead.
 * - `grpc-c-core`: C-core clients (Python and the other wrapped languages): route timeouts
 *   (max_stream_duration) are left out, because C-core ends calls with DEADLINE_EXCEEDED long
 *   before them (measured with grpcio 1.51.1 and 1.85.1: a 300ms timeout failed calls at once).
 * - `grpc-no-ring-hash`: C-core 1.50 and 1.51, which also crash on ring_hash clusters
 *   (grpc/grpc#31766): ring_hash policies are served to them as round robin, and no timeouts.
 * - `envoy`: Envoy proxies; a socket listener and virtual hosts per service.
 */
export const FLAVOURS = ['grpc', 'grpc-least-request', 'grpc-c-core', 'grpc-no-ring-hash', 'envoy'] as const;
export type Flavour = (typeof FLAVOURS)[number];
export type GrpcFlavour = Exclude<Flavour, 'envoy'>;

/** What a gRPC flavour's clients can use; a policy asking for more is served without it. */
export interface GrpcCapabilities {
  /** ring_hash clusters; without it, round robin (and no hash policy). */
  readonly ringHash: boolean;
  /** Route timeouts (max_stream_duration); without them, none. */
  readonly routeTimeouts: boolean;
  /** LEAST_REQUEST clusters; without it, round robin. */
  readonly leastRequest: boolean;
}

export const GRPC_CAPABILITIES: Readonly<Record<GrpcFlavour, GrpcCapabilities>> = {
  grpc: { ringHash: true, routeTimeouts: true, leastRequest: false },
  'grpc-least-request': { ringHash: true, routeTimeouts: true, leastRequest: true },
  'grpc-c-core': { ringHash: true, routeTimeouts: false, leastRequest: false },
  'grpc-no-ring-hash': { ringHash: false, routeTimeouts: false, leastRequest: false },
};
