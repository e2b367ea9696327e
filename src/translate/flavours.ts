// The client flavours etcd-xds translates for, and which translation each one gets.
import type { Catalog } from '../registry/catalog';
import { translateForEnvoy } from './envoy/translate';
import type { EnvoyListenerAddress } from './envoy/listener';
import { translateForGrpc } from './grpc/translate';
import type { ResourceSet } from './resource-set';

/**
 * - `grpc`: proxyless gRPC clients.
 * - `grpc-no-ring-hash`: gRPC clients that crash on ring_hash clusters (C-core 1.50 and 1.51,
 *   grpc/grpc#31766); ring_hash policies are served to them as round robin.
 * - `envoy`: Envoy proxies; a socket listener and virtual hosts per service.
 */
export const FLAVOURS = ['grpc', 'grpc-no-ring-hash', 'envoy'] as const;
export type Flavour = (typeof FLAVOURS)[number];

export interface TranslateSettings {
  readonly envoyListener: EnvoyListenerAddress;
}

export const DEFAULT_TRANSLATE_SETTINGS: TranslateSettings = {
  envoyListener: { host: '0.0.0.0', port: 10000 },
};

/** The translation function for every flavour, with the deployment's settings applied. */
export function translator(settings: TranslateSettings): (flavour: Flavour, catalog: Catalog) => ResourceSet {
  return (flavour, catalog) => {
    switch (flavour) {
      case 'grpc':
      case 'grpc-no-ring-hash':
        return translateForGrpc(catalog, { flavour, ringHash: flavour === 'grpc' });
      case 'envoy':
        return translateForEnvoy(catalog, { listener: settings.envoyListener });
    }
  };
}

/** Translation with the default settings (tests and tools). */
export function translateFor(flavour: Flavour, catalog: Catalog): ResourceSet {
  return translator(DEFAULT_TRANSLATE_SETTINGS)(flavour, catalog);
}
