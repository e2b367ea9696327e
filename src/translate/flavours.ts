// The client flavours etcd-xds translates for, and which translation each one gets.
import type { Catalog } from '../registry/catalog';
import { translateForGrpc } from './grpc/translate';
import type { ResourceSet } from './resource-set';

/**
 * - `grpc`: proxyless gRPC clients.
 * - `grpc-no-ring-hash`: gRPC clients that crash on ring_hash clusters (C-core 1.50 and 1.51,
 *   grpc/grpc#31766); ring_hash policies are served to them as round robin.
 */
export const FLAVOURS = ['grpc', 'grpc-no-ring-hash'] as const;
export type Flavour = (typeof FLAVOURS)[number];

export function translateFor(flavour: Flavour, catalog: Catalog): ResourceSet {
  return translateForGrpc(catalog, { flavour, ringHash: flavour !== 'grpc-no-ring-hash' });
}
