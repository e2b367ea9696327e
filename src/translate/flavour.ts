// The client flavours: what a client can consume, one input of its view (see view.ts).

/**
 * - `grpc`: proxyless gRPC clients.
 * - `grpc-no-ring-hash`: gRPC clients that crash on ring_hash clusters (C-core 1.50 and 1.51,
 *   grpc/grpc#31766); ring_hash policies are served to them as round robin.
 * - `envoy`: Envoy proxies; a socket listener and virtual hosts per service.
 */
export const FLAVOURS = ['grpc', 'grpc-no-ring-hash', 'envoy'] as const;
export type Flavour = (typeof FLAVOURS)[number];
