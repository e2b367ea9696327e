// The client flavours etcd-xds translates for, and which translation each one gets.
import type { Catalog } from '../registry/catalog';
import { envoyViewOverrides, translateForEnvoy } from './envoy/translate';
import type { EnvoyListenerAddress } from './envoy/listener';
import { grpcViewOverrides, translateForGrpc } from './grpc/translate';
import type { Resource, ResourceSet } from './resource-set';
import type { Flavour } from './flavour';
import { plainView, type View } from './view';

export { FLAVOURS, type Flavour } from './flavour';

export interface TranslateSettings {
  readonly envoyListener: EnvoyListenerAddress;
}

export const DEFAULT_TRANSLATE_SETTINGS: TranslateSettings = {
  envoyListener: { host: '0.0.0.0', port: 10000 },
};

/** Catalog → resources for every view, with the deployment's settings applied. Pure. */
export interface Translator {
  /** Every resource a client of this view gets. */
  translate(catalog: Catalog, view: View): ResourceSet;
  /**
   * The resources in which this view differs from the plain view of its flavour (same names,
   * other content): `translate(catalog, view)` is `translate(catalog, plainView(flavour))` with
   * these in place. Lets a cache keep one snapshot per flavour and only the differences per view.
   */
  overrides(catalog: Catalog, view: View): Resource[];
}

export function translator(settings: TranslateSettings): Translator {
  const grpcOptions = (flavour: Flavour) => ({
    flavour,
    ringHash: flavour !== 'grpc-no-ring-hash',
    timeouts: flavour === 'grpc',
  });
  return {
    translate(catalog, view) {
      return view.flavour === 'envoy'
        ? translateForEnvoy(catalog, { listener: settings.envoyListener }, view)
        : translateForGrpc(catalog, grpcOptions(view.flavour), view);
    },
    overrides(catalog, view) {
      return view.flavour === 'envoy'
        ? envoyViewOverrides(catalog, view)
        : grpcViewOverrides(catalog, view, grpcOptions(view.flavour));
    },
  };
}

/** Translation with the default settings (tests and tools), for a flavour's plain view or a view. */
export function translateFor(view: Flavour | View, catalog: Catalog): ResourceSet {
  return translator(DEFAULT_TRANSLATE_SETTINGS).translate(
    catalog,
    typeof view === 'string' ? plainView(view) : view,
  );
}
