// The client flavours: what a client can consume, one input of its view (see view.ts).

/**
 * - `grpc`: proxyless gRPC clients.
 * - `grpc-c-core`: C-core clients (Python and the other wrapped languages): route timeouts
 *   (max_stream_duration) are left out, because C-core ends calls with DEADLINE_EXCEEDED long
 *   before them (measured with grpcio 1.51.1 and 1.85.1: a 300ms timeout failed calls at once).
 * - `grpc-no-ring-hash`: C-core 1.50 and 1.51, which also crash on ring_hash clusters
 *   (grpc/grpc#31766): ring_hash policies are served to them as round robin, and no timeouts.
 * - `envoy`: Envoy proxies; a socket listener and virtual hosts per service.
 */
export const FLAVOURS = ['grpc', 'grpc-c-core', 'grpc-no-ring-hash', 'envoy'] as const;
export type Flavour = (typeof FLAVOURS)[number];
